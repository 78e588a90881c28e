/* SPDX-License-Identifier: MIT */
/*
 * The mesh hub: one WireGuard interface whose peers are the enrolled connectors.
 * hub_sync() computes the desired peer set from the store after every change; for
 * now it only logs it (the WireGuard/rtnetlink control comes with lib/wg and lib/rtnl).
 */
#ifndef CTL_HUB_H
#define CTL_HUB_H

#include "ctl.h"

struct hub_peer {
	uint8_t public_key[WG_KEY_LEN];
	struct cidr *allowed; /* the tunnel /32 (or /128) and its network's subnets */
	size_t n_allowed;
	const char *connector_id;
};

/* The desired peers: every enrolled connector that is neither disabled nor revoked. */
int hub_desired_peers(const struct ctl_ctx *ctx, struct hub_peer **out, size_t *n, mg_err *e);
void hub_peers_free(struct hub_peer *v, size_t n);
/* Bring the hub in line with the store. With --no-hub a no-op. */
int hub_sync(struct ctl_ctx *ctx, mg_err *e);

#endif
