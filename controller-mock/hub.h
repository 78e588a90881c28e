/* SPDX-License-Identifier: MIT */
/*
 * The mesh hub: one WireGuard interface whose peers are the enrolled connectors (and
 * remote users). A connector's peer allows its tunnel address plus its network's
 * subnets; the hub routes those subnets into the interface and forwards between peers.
 * hub_sync() brings the interface in line with the store after every change: peers are
 * added, changed and removed in place (sessions of unchanged peers survive), so a
 * revoke or disable takes effect at once.
 */
#ifndef CTL_HUB_H
#define CTL_HUB_H

#include "ctl.h"

/* rtm_protocol of the hub's subnet routes (the agent's own routes use 109). */
#define HUB_RTPROT 110

struct hub_peer {
	uint8_t public_key[WG_KEY_LEN];
	/* the tunnel /32 (or /128), its IPv6 /128 with an IPv6 mesh range (n_own in all),
	 * then a connector's network's subnets */
	struct cidr *allowed;
	size_t n_allowed;
	size_t n_own;
	const char *owner_id; /* the connector ("c-...") or user ("u-...") of this peer */
	bool cut;             /* disabled: kept as a peer, with no allowed IPs */
};

/*
 * The desired peers: every enrolled connector that is not revoked, then every user that
 * is not revoked (allowed IPs: its address only).
 *
 * A disabled connector or user stays a peer of the hub with NO allowed IPs (`cut`):
 * WireGuard's cryptokey routing then drops every packet from it (no source address is
 * allowed) and sends none to it (no destination maps to it), and the hub's routes to
 * its subnets are withdrawn, so it is cut at once. But its endpoint and its session
 * stay, so enabling it (allowed IPs back) lets traffic flow again at once, in both
 * directions, without waiting for a handshake that neither side would start (a peer
 * removed and re-added has no endpoint, and the other side keeps sending on a session
 * the hub forgot).
 */
int hub_desired_peers(const struct ctl_ctx *ctx, struct hub_peer **out, size_t *n, mg_err *e);
void hub_peers_free(struct hub_peer *v, size_t n);
/* Bring the hub in line with the store (creating it on first use). --no-hub: a no-op. */
int hub_sync(struct ctl_ctx *ctx, mg_err *e);
/*
 * Release the hub. With `remove`, delete its interface and routes; otherwise leave them
 * forwarding (a restarted controller adopts the interface, sessions intact).
 */
void hub_stop(struct ctl_ctx *ctx, bool remove);
/*
 * Supervision (hub_watch.c): a descriptor for the event loop, readable when the hub needs
 * attention (its wireguard-go died, or the one-second tick that remembers the peers'
 * endpoints); -1 without a hub. hub_watch_run() handles it: a dead daemon is restarted
 * and every peer restored with its last endpoint, and logged.
 */
int hub_watch_fd(const struct ctl_ctx *ctx);
void hub_watch_run(struct ctl_ctx *ctx);

/* One identity, one host (identity.c). The endpoint the hub has for peer `key` (false:
 * none, or no hub). */
bool hub_peer_endpoint(struct ctl_ctx *ctx, const uint8_t key[WG_KEY_LEN],
		       struct sockaddr_storage *ep);
/* Drop every session of peer `key` and point it at `ep`: undoes a handshake made by a
 * copy of the connector's identity, so the hub's next packet brings up a fresh session
 * with the host at `ep`. */
int hub_peer_reset(struct ctl_ctx *ctx, const uint8_t key[WG_KEY_LEN],
		   const struct sockaddr_storage *ep, mg_err *e);

#endif
