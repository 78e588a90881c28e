/* SPDX-License-Identifier: MIT */
/*
 * One identity, one host. Agents send `Meshgate-Host-Id` (32 lowercase hex digits, a
 * fingerprint of the machine) and `Meshgate-Host-Name` with every request. The first host
 * to present a connector's identity holds it; a different host presenting the same
 * credentials while the holder is live (a request within IDENT_LIVE_MS, or a long-poll
 * still open) is refused with 409 identity_in_use naming the holder, and the attempt is
 * shown in the admin API. A holder that is gone is replaced by the newcomer (a host
 * legitimately rebuilt). After a controller start a persisted holder keeps the identity
 * for IDENT_GRACE_MS, longer than one long-poll, so it can come back first.
 */
#ifndef CTL_IDENTITY_H
#define CTL_IDENTITY_H

#include "http.h"

#define IDENT_LIVE_MS    10000
#define IDENT_GRACE_MS   65000
#define IDENT_CONFLICT_S 60 /* a conflict with no attempt for this long is cleared */
#define IDENT_ID_HDR     "Meshgate-Host-Id"
#define IDENT_NAME_HDR   "Meshgate-Host-Name"

/* Parse the two header values (either may be NULL). 1: `out` has the host; 0: no host
 * id given (an agent that does not identify itself: not checked); -1: malformed (e). */
int ident_parse(const char *id, const char *name, struct ctl_host *out, mg_err *e);
/* The agent request `r` for connector `c`: 0 when its host may use the identity (and
 * is recorded), -1 after replying (400 malformed headers, 409 identity_in_use). */
int ident_check(struct req *r, struct ctl_connector *c, enum MHD_Result *res);
/* Enrolment: the enrolling host becomes the holder. -1 after replying 400. */
int ident_enrol(struct req *r, struct ctl_connector *c, enum MHD_Result *res);
/* Admin API: "host" and "identity_conflict" (null when none) onto `o`. */
bool ident_to_api_json(cJSON *o, const struct ctl_connector *c);
/* The store: "host_id" and "host_name" onto `o`, and back (both optional). */
bool ident_to_store_json(cJSON *o, const struct ctl_connector *c);
int ident_from_store_json(const cJSON *o, struct ctl_connector *c, mg_err *e);

#endif
