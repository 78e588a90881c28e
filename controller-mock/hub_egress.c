/* SPDX-License-Identifier: MIT */
/*
 * The hub's policy routing for internet egress (egress.h). The egress connector's peer
 * has the default routes in its allowed IPs, but the hub's host must not route its own
 * traffic (the API, the hub's UDP to every peer, anything else on the host) into the
 * tunnel. So the default route into the hub interface lives in a table of its own,
 * HUB_EGRESS_TABLE, looked up only for packets that came in on the hub interface:
 *
 *   ip rule add iif <hub> lookup 1109 priority 1109        (IPv4 and IPv6)
 *   ip route add default dev <hub> table 1109 proto 110     (IPv4 and IPv6)
 *
 * Local destinations (the local table, priority 0) still win, and a packet from a peer
 * to another peer leaves by the hub interface either way, where WireGuard's cryptokey
 * routing picks the most specific peer: another site, a user, else the egress
 * connector. With no live egress connector such packets are dropped by WireGuard
 * (no peer has them), never sent out of the host's own uplink.
 */
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "egress.h"
#include "hub.h"
#include "hub_priv.h"
#include "log.h"
#include "rtnl_rule.h"

static void rule_of(const struct ctl_ctx *ctx, int family, struct rtnl_rule *rl)
{
	memset(rl, 0, sizeof(*rl));
	rl->family = (uint8_t)family;
	snprintf(rl->iif, sizeof(rl->iif), "%s", ctx->hub_ifname);
	rl->table = HUB_EGRESS_TABLE;
	rl->prio = HUB_EGRESS_PRIO;
	rl->protocol = HUB_RTPROT;
}

/* rtnl_routes_sync for our table, which the kernel does not know (a dump of it fails)
 * until a route is in it: dump every table and keep ours. */
static int table_sync(struct hub *h, const struct rtnl_route *want, size_t nw, size_t *nadd,
		      size_t *ndel, mg_err *e)
{
	struct rtnl_route *cur = NULL, *add = NULL, *del = NULL;
	size_t nc = 0, k = 0;
	int r = -1;

	*nadd = *ndel = 0;
	if (rtnl_route_dump(&h->rt, HUB_RTPROT, 0, &cur, &nc, e) < 0)
		return -1;
	for (size_t i = 0; i < nc; i++)
		if (cur[i].table == HUB_EGRESS_TABLE)
			cur[k++] = cur[i];
	if (rtnl_route_diff(want, nw, cur, k, &add, nadd, &del, ndel, e) == 0)
		r = (*nadd || *ndel)
			? rtnl_routes_apply(&h->rt, add, *nadd, del, *ndel, HUB_RTPROT, NULL, e)
			: 0;
	free(cur);
	free(add);
	free(del);
	return r;
}

int hub_egress_sync(struct ctl_ctx *ctx, bool on, mg_err *e)
{
	struct hub *h = ctx->hub;
	struct rtnl_route want[2] = {0};
	struct rtnl_rule rl;
	size_t nadd = 0, ndel = 0;

	if (!h)
		return 0;
	/* called after every change: only a change of state (or a new interface, whose
	 * routes went with the old one) costs netlink work; the first call after a start
	 * writes either way, adopting or removing what an earlier run left */
	if (h->egress_ifindex == h->ifindex && h->egress_on == on)
		return 0;
	for (int v6 = 0; v6 < 2; v6++) {
		want[v6].dst.family = v6 ? AF_INET6 : AF_INET; /* len 0: the default route */
		want[v6].oif = h->ifindex;
		want[v6].table = HUB_EGRESS_TABLE;
	}
	/* off: the table's routes go first, then the rules (nothing points at an empty
	 * table); on: the routes first too, so the rule never sends into an empty table */
	if (table_sync(h, want, on ? 2 : 0, &nadd, &ndel, e) < 0)
		return mg_err_prefix(e, "egress table %u", HUB_EGRESS_TABLE);
	for (int v6 = 0; v6 < 2; v6++) {
		rule_of(ctx, v6 ? AF_INET6 : AF_INET, &rl);
		if ((on ? rtnl_rule_add : rtnl_rule_del)(&h->rt, &rl, e) < 0)
			return -1;
	}
	if (on || h->egress_ifindex)
		log_info("hub %s: internet egress %s (rule iif %s lookup %u, default routes %zu "
			 "added, %zu removed)",
			 ctx->hub_ifname, on ? "on" : "off", ctx->hub_ifname, HUB_EGRESS_TABLE,
			 nadd, ndel);
	h->egress_on = on;
	h->egress_ifindex = h->ifindex;
	return 0;
}
