/* SPDX-License-Identifier: MIT */
/*
 * Internet egress (docs/API.md, "Internet egress"): one network of the controller may be
 * the mesh's way out to the internet. Its ACTIVE connector is the hub peer with the
 * default routes (0.0.0.0/0, ::/0) in its allowed IPs, and remote users who opt in
 * (`full_tunnel`) get those in their AllowedIPs. The hub sends what comes in on its
 * interface and has no more specific peer to that connector, through a policy rule that
 * matches only packets that came in on the hub interface (hub_egress.c): the
 * controller's own traffic never enters the tunnel.
 */
#ifndef CTL_EGRESS_H
#define CTL_EGRESS_H

#include "ctl.h"

/* The policy routing of the hub: rule priority and table (both fixed, documented). */
#define HUB_EGRESS_PRIO  1109
#define HUB_EGRESS_TABLE 1109

/* The network marked egress, or NULL (at most one: egress_check_conflict). */
const struct ctl_network *egress_net(const struct ctl_store *s);
/* 0, or -1 when `n` is marked egress and another network already is (409). */
int egress_check_conflict(const struct ctl_store *s, const struct ctl_network *n, mg_err *e);
/* Does connector `c` carry the mesh's internet traffic (enrolled, live, not disabled, of
 * the egress network, and its active connector when it has several)? */
bool egress_conn_exits(const struct ctl_store *s, const struct ctl_connector *c);
/* Does the config of user `u` route everything into the tunnel? (opted in, and an
 * egress network exists) */
bool egress_user_full(const struct ctl_store *s, const struct ctl_user *u);

/* hub_egress.c: the hub's rule and table, on when an egress network exists. */
struct hub;
int hub_egress_sync(struct ctl_ctx *ctx, bool on, mg_err *e);

#endif
