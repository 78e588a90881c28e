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
int enroll(const struct connstr *cs, const char *state_dir, const char *ca_file, const char *ifname,
	   struct agent_state *st, mg_err *e);

#endif
