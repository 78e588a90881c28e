/* SPDX-License-Identifier: MIT */
/*
 * Active/standby connectors (docs/HA.md). A network with two or more live connectors
 * (enrolled, neither disabled nor revoked) has exactly one active connector; the others
 * are standby. The active one is named in the network's store entry with an epoch, a
 * number that grows with every change of the active connector, so roles and epochs
 * survive a controller restart (kill -9 included).
 *
 * Leases: every authenticated agent request renews its connector's lease (lease_ms). A
 * long-poll of a connector of an HA network is answered within lease_ms / 3, so a live
 * agent renews well in time; a long-poll connection that closes while it waits (the agent
 * died: its kernel closed the socket) ends the lease at once; a silent agent (stopped, cut
 * off) loses it when it runs out. When the active connector's lease ends, the best live
 * standby (not held back, oldest first) is promoted with epoch + 1: the hub moves the
 * network's subnets to it and every connector of the network gets a new config (long-poll
 * wake). A connector that lost its lease is held back for hold_down_ms after it comes
 * back; a recovered former active stays standby unless the network says `preempt`.
 *
 * The config of a connector of an HA network carries
 *   "ha": {"role": "active"|"standby", "epoch": N, "lease_ms": L,
 *          "peers": [{"id": "c-...", "targets": ["i-...", "eni-...", "10.0.1.5"]}]}
 * where peers are the other connectors of the network and the cloud next hops their status
 * reports name, so the new active recognises their VPC routes as its network's to take.
 */
#ifndef CTL_HA_H
#define CTL_HA_H

#include "http.h"

#define HA_LEASE_MS_DEFAULT     3000
#define HA_LEASE_MS_MIN         1000
#define HA_LEASE_MS_MAX         60000
#define HA_HOLD_DOWN_MS_DEFAULT 30000
#define HA_HOLD_DOWN_MS_MAX     86400000
#define HA_MAX_TARGETS          3
#define HA_MAX_PEERS            64

/* Start: the event fd, a fresh lease for every connector (agents get a lease's time and
 * as much again to come back after a restart), the first election. */
int ha_start(struct ctl_ctx *ctx, mg_err *e);
void ha_stop(struct ctl_ctx *ctx);
/* Poll it (POLLIN) with the loop's other fds; call ha_run when it is readable. */
int ha_fd(const struct ctl_ctx *ctx);
/* Lease deadlines and closed long-polls: elect again, commit when a role changed. */
void ha_run(struct ctl_ctx *ctx);

/* An authenticated agent request of `c`: its lease is renewed. */
void ha_renew(struct ctl_ctx *ctx, struct ctl_connector *c);
/* After a status report of `c` (its previous one: old_status): when what it tells of its
 * cloud next hop changed, the other connectors of its HA network, which list it as a peer
 * (peers_json), are rendered again too. */
void ha_touch_peers(struct ctl_ctx *ctx, struct ctl_connector *c, const cJSON *old_status);
/* The deadline of a long-poll of `c` that asked for `deadline_ms`: at most a third of the
 * lease away for a connector of an HA network. */
int64_t ha_longpoll_deadline(const struct ctl_ctx *ctx, const struct ctl_connector *c,
			     int64_t deadline_ms);
/* A waiter was suspended / leaves its list: watch its socket for the agent going away. */
void ha_watch(struct ctl_waiter *w);
void ha_unwatch(struct ctl_waiter *w);

/* Pick the active connector of every network from the leases as they stand (ctl_commit
 * calls it before rendering). Returns how many networks changed their active connector. */
int ha_elect(struct ctl_ctx *ctx);
/* Two or more live connectors: leases, roles and the "ha" config block apply. */
bool ha_enabled(const struct ctl_store *s, const struct ctl_network *n);
/* The hub routes the network's subnets to `c`: it is the active one (or the network has
 * no active connector named yet). */
bool ha_routes_subnets(const struct ctl_store *s, const struct ctl_connector *c);
/* Add "ha" to a config document being rendered (nothing outside HA). -1: out of memory. */
int ha_render(const struct ctl_store *s, const struct ctl_connector *c, cJSON *doc);
/* Add "ha" (role, epoch, lease) to a connector's admin API object. -1: out of memory. */
int ha_conn_json(const struct ctl_store *s, const struct ctl_connector *c, cJSON *o);

/* The network object's "ha" member: defaults, parsing (API: preempt, lease_ms,
 * hold_down_ms; the store also epoch, active, active_since), and its JSON. */
void ha_net_defaults(struct ctl_ha_net *h);
int ha_net_from_json(struct ctl_ha_net *h, const cJSON *j, bool store, mg_err *e);
bool ha_net_to_json(cJSON *o, const struct ctl_ha_net *h);

/* POST /api/v1/networks/{id}/connectors/{cid}/drain: planned switchover. */
enum MHD_Result api_connector_drain(struct req *r);

#endif
