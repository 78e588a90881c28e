/* SPDX-License-Identifier: MIT */
/*
 * This connector's side of active/standby (docs/HA.md): the role and epoch the controller's
 * config gives ("ha"), and the lease as this host sees it. The lease runs from the START of
 * the last poll the controller answered (200 or 304), by this host's monotonic clock, for
 * lease_ms minus a margin: the controller renews it on receiving that very request, so the
 * agent's end always comes before the controller's, and an active connector that cannot
 * reach the controller stops its cloud writes before a standby can be promoted. A config
 * with an epoch older than one already seen is refused; a standby writes nothing.
 */
#ifndef MG_DAEMON_HA_H
#define MG_DAEMON_HA_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "reconcile.h"

#define HA_MARGIN_MIN_MS 500

struct agent_ha {
	bool present; /* the config in force has "ha" */
	bool active;
	int64_t epoch, max_epoch, lease_ms;
	uint64_t lease_until; /* monotonic ms; 0 = no lease (not renewed since it changed) */
	bool fenced;          /* the lease ran out (logged once) */
	unsigned role_changes;
};

/* A config about to be taken: -1 (why in `e`) when its epoch is older than one seen. */
int ha_check(const struct agent_ha *h, const struct mg_config *c, mg_err *e);
/* The config in force changed. True when the role changed (logged with the epoch). */
bool ha_take(struct agent_ha *h, const struct mg_config *c);
/* A poll started at `started_ms` was answered: the lease is renewed. True when cloud
 * writes become allowed again (the active connector's lease was out). */
bool ha_renewed(struct agent_ha *h, uint64_t started_ms, uint64_t now);
/* Cloud writes are allowed now: no HA, or the active connector within its lease. */
bool ha_may_write(const struct agent_ha *h, uint64_t now);
/* For cw_set_write_deadline: UINT64_MAX without HA, 0 as standby, else the lease's end. */
uint64_t ha_write_until(const struct agent_ha *h);
/* The lease ran out at `now` (the loop's timer): true the first time (the caller logs). */
bool ha_expired(struct agent_ha *h, uint64_t now);
/* The long-poll wait to ask for: at most a third of the lease. */
int ha_poll_wait_s(const struct agent_ha *h, int wait_s);
/* The config's peers as the reconciler takes them; returns how many (at most max). */
size_t ha_peers(const struct mg_config *c, struct crec_peer *out, size_t max);
/* {"role", "epoch", "lease_ms", "lease_left_ms", "writes", "role_changes"} or NULL. */
cJSON *ha_status_json(const struct agent_ha *h, uint64_t now);

#endif
