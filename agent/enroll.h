/* SPDX-License-Identifier: MIT */
/* Enrolment: key pair made here, single-use token exchanged for a device identity. */
#ifndef MG_ENROLL_H
#define MG_ENROLL_H

#include "connstr.h"
#include "err.h"
#include "state.h"

/*
 * Make the WireGuard key pair, enrol with the controller named in `cs` (pin enforced)
 * and persist the identity in `state_dir`. On success `st` holds the new identity.
 */
int enroll(const struct connstr *cs, const char *state_dir, const char *ca_file,
	   const char *ifname, struct agent_state *st, mg_err *e);

/*
 * Fetch the config document once (blocking). `if_none_match` may be NULL; `wait_s` is the
 * long-poll wait. Returns 200 with *json (heap) set, 304, or -1 with e set (revocation and
 * disable are errors whose API code is copied into `code`).
 */
long config_fetch(const struct agent_state *st, const char *if_none_match, int wait_s,
		  char **json, size_t *len, char *code, size_t codelen, mg_err *e);

#endif
