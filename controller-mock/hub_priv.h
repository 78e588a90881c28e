/* SPDX-License-Identifier: MIT */
/*
 * The hub's inner state, shared by hub.c (the interface, its peers and routes) and
 * hub_watch.c (supervision of its wireguard-go, remembered peer endpoints).
 */
#ifndef CTL_HUB_PRIV_H
#define CTL_HUB_PRIV_H

#include <sys/socket.h>
#include <sys/types.h>

#include "hub.h"
#include "rtnl.h"
#include "wg.h"

/* The last endpoint the hub saw for a peer (kept sorted by key). */
struct hub_ep {
	uint8_t key[WG_KEY_LEN];
	struct sockaddr_storage addr;
};

struct hub {
	struct wg_ctx *wg; /* NULL while the interface is down (a restart failed) */
	struct rtnl rt;
	uint32_t ifindex;
	/* supervision (hub_watch.c): one epoll set holding the tick timer and a pidfd */
	int epfd, tfd, pidfd;
	pid_t pid;  /* the watched wireguard-go; 0: kernel backend or not found */
	bool child; /* pid is our child (reaped by us) rather than adopted */
	struct hub_ep *eps;
	size_t n_eps;
	unsigned restarts;
	/* hub_egress.c: the policy rules and table were last written (on or off) for the
	 * interface egress_ifindex; 0: not yet since the start */
	bool egress_on;
	uint32_t egress_ifindex;
};

/* hub.c: build the interface again after its wireguard-go died (or it vanished), and
 * restore every peer, with its remembered endpoint, and the routes. */
int hub_revive(struct ctl_ctx *ctx, const char *why, mg_err *e);

/* hub_watch.c */
int hub_watch_init(struct hub *h, mg_err *e);
/* Watch the daemon serving the (freshly attached) interface. */
void hub_watch_daemon(struct hub *h, const char *ifname);
/* Stop watching the daemon (it died or is being replaced); reaps it when it was ours.
 * Writes how it ended to `how`. */
void hub_watch_forget(struct hub *h, char *how, size_t howlen);
void hub_watch_free(struct hub *h);
/* Remember the endpoints `dev` shows; forget peers `keep` rejects. */
void hub_eps_record(struct hub *h, const struct wg_device *dev);
void hub_eps_prune(struct hub *h, const struct hub_peer *v, size_t n);
const struct sockaddr_storage *hub_eps_find(const struct hub *h, const uint8_t key[WG_KEY_LEN]);

#endif
