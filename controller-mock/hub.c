/* SPDX-License-Identifier: MIT */
#include "hub.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress.h"
#include "ha.h"
#include "hub_priv.h"
#include "log.h"
#include "rtnl.h"
#include "wg.h"

void hub_peers_free(struct hub_peer *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].allowed);
	free(v);
}

/* A peer's own tunnel addresses: the /32 (or /128) and, dual stack, the IPv6 /128. */
static void own_addrs(const struct ctl_store *s, uint64_t index, struct hub_peer *p)
{
	store_addr(s, index, &p->allowed[0]);
	p->n_own = 1 + store_addr6(s, index, &p->allowed[1]);
	p->n_allowed = p->n_own;
}

int hub_desired_peers(const struct ctl_ctx *ctx, struct hub_peer **out, size_t *n, mg_err *e)
{
	const struct ctl_store *s = &ctx->store;
	struct hub_peer *v = calloc(s->n_conns + s->n_users + 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return mg_err_set(e, "out of memory");
	for (size_t i = 0; i < s->n_conns; i++) {
		const struct ctl_connector *c = s->conns[i];
		const struct ctl_network *net = store_find_net(s, c->network_id);
		struct hub_peer *p = &v[k];

		if (!c->enrolled || c->revoked || !net)
			continue;
		memcpy(p->public_key, c->public_key, WG_KEY_LEN);
		p->owner_id = c->id;
		k++;
		if (c->disabled) { /* kept, with no allowed IPs: see hub.h */
			p->cut = true;
			continue;
		}
		p->allowed = calloc(net->n_subnets + 4, sizeof(*p->allowed));
		if (!p->allowed) {
			hub_peers_free(v, k);
			return mg_err_set(e, "out of memory");
		}
		own_addrs(s, c->addr_index, p);
		/* a standby connector: its tunnel addresses only (ha.c) */
		if (ha_routes_subnets(s, c)) {
			memcpy(p->allowed + p->n_own, net->subnets,
			       net->n_subnets * sizeof(*p->allowed));
			p->n_allowed += net->n_subnets;
		}
		/* the active connector of the egress network: the rest of the internet too */
		if (egress_conn_exits(s, c)) {
			p->allowed[p->n_allowed++] = (struct cidr){.family = AF_INET};
			p->allowed[p->n_allowed++] = (struct cidr){.family = AF_INET6};
		}
	}
	for (size_t i = 0; i < s->n_users; i++) {
		const struct ctl_user *u = s->users[i];
		struct hub_peer *p = &v[k];

		if (u->revoked)
			continue;
		memcpy(p->public_key, u->public_key, WG_KEY_LEN);
		p->owner_id = u->id;
		k++;
		if (u->disabled) {
			p->cut = true;
			continue;
		}
		p->allowed = calloc(2, sizeof(*p->allowed));
		if (!p->allowed) {
			hub_peers_free(v, k);
			return mg_err_set(e, "out of memory");
		}
		own_addrs(s, u->addr_index, p);
	}
	*out = v;
	*n = k;
	return 0;
}

/*
 * The hub forwards between peers: turn routing on in its own network namespace, and
 * stop ICMP redirects: a packet between two peers leaves by the interface it came in
 * by, which is exactly what the hub is for, not a routing mistake to report.
 */
static void hub_forwarding(const char *ifname)
{
	char ifkey[96], rpkey[96];
	const struct {
		const char *path, *value;
	} keys[] = {
	    {"/proc/sys/net/ipv4/ip_forward", "1\n"},
	    {"/proc/sys/net/ipv6/conf/all/forwarding", "1\n"},
	    {"/proc/sys/net/ipv4/conf/all/send_redirects", "0\n"},
	    {ifkey, "0\n"},
	    /* loose: replies from the internet come in on the hub interface from the egress
	     * connector with addresses the main table routes elsewhere (hub_egress.c) */
	    {rpkey, "2\n"},
	};
	snprintf(ifkey, sizeof(ifkey), "/proc/sys/net/ipv4/conf/%s/send_redirects", ifname);
	snprintf(rpkey, sizeof(rpkey), "/proc/sys/net/ipv4/conf/%s/rp_filter", ifname);
	for (size_t i = 0; i < MG_ARRAY_SIZE(keys); i++) {
		FILE *f = fopen(keys[i].path, "w");
		if (!f || fputs(keys[i].value, f) < 0) {
			log_warn("hub: cannot set %s", keys[i].path);
			if (f)
				fclose(f);
			continue;
		}
		if (fclose(f) != 0)
			log_warn("hub: cannot set %s", keys[i].path);
	}
}

/*
 * The hub holds the first address of the mesh range(s), with its prefix route, and no
 * other: an adopted interface may carry the IPv6 address of a run that had an IPv6 mesh
 * range (this one has none).
 */
static int hub_addrs(struct ctl_ctx *ctx, struct hub *h, mg_err *e)
{
	struct cidr want[2];
	struct rtnl_addr *cur = NULL;
	size_t n = 0, nwant = 1;

	store_addr(&ctx->store, 1, &want[0]);
	want[0].len = ctx->store.mesh.len;
	if (store_addr6(&ctx->store, 1, &want[1])) {
		want[1].len = ctx->store.mesh6.len;
		nwant = 2;
	}
	if (rtnl_addr_list(&h->rt, AF_UNSPEC, &cur, &n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool keep = false;
		if (cur[i].ifindex != h->ifindex || cur[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		for (size_t k = 0; k < nwant; k++)
			keep |= cidr_equal(&cur[i].addr, &want[k]);
		if (!keep && rtnl_addr_del(&h->rt, h->ifindex, &cur[i].addr, e) < 0) {
			free(cur);
			return -1;
		}
	}
	free(cur);
	/* IPv6 without duplicate address detection: nothing else can hold it on a WireGuard
	 * link, and a tentative address would not answer for a second or so */
	for (size_t k = 0; k < nwant; k++)
		if (rtnl_addr_add(&h->rt, h->ifindex, &want[k],
				  want[k].family == AF_INET6 ? IFA_F_NODAD : 0, e) < 0)
			return -1;
	return 0;
}

/* The interface of `h` (WireGuard, key, port, address, up), its daemon watched. */
static int hub_up(struct ctl_ctx *ctx, struct hub *h, mg_err *e)
{
	struct wg_device dev = {0};

	h->wg = wg_ctx_new(WG_MODE_AUTO);
	if (!h->wg)
		return mg_err_set(e, "out of memory");
	/* a socket left by a killed daemon would be adopted: remove it first */
	if (wg_uapi_reap_stale(h->wg, ctx->hub_ifname, e) < 0 ||
	    wg_attach(h->wg, ctx->hub_ifname, e) < 0)
		goto fail;
	if (rtnl_link_index(&h->rt, ctx->hub_ifname, &h->ifindex, e) != 0)
		goto fail;
	snprintf(dev.ifname, sizeof(dev.ifname), "%s", ctx->hub_ifname);
	memcpy(dev.private_key, ctx->hub_priv, WG_KEY_LEN);
	dev.has_private_key = true;
	dev.listen_port = ctx->hub_port;
	int r = wg_set_device(h->wg, &dev, e);
	wgkey_wipe(dev.private_key, WG_KEY_LEN);
	if (r < 0)
		goto fail;
	if (hub_addrs(ctx, h, e) < 0 || rtnl_link_set(&h->rt, h->ifindex, true, CTL_MTU, e) < 0)
		goto fail;
	hub_forwarding(ctx->hub_ifname);
	hub_watch_daemon(h, ctx->hub_ifname);
	log_info("hub %s up (%s WireGuard, port %u)", ctx->hub_ifname, wg_backend_name(h->wg),
		 ctx->hub_port);
	return 0;
fail:
	mg_err_prefix(e, "hub %s", ctx->hub_ifname);
	wg_ctx_free(h->wg);
	h->wg = NULL;
	return -1;
}

static void hub_free(struct hub *h)
{
	hub_watch_free(h);
	rtnl_close(&h->rt);
	wg_ctx_free(h->wg);
	free(h);
}

static int hub_start(struct ctl_ctx *ctx, mg_err *e)
{
	struct hub *h = calloc(1, sizeof(*h));

	if (!h)
		return mg_err_set(e, "out of memory");
	h->epfd = h->tfd = h->pidfd = -1;
	if (rtnl_open(&h->rt, e) < 0) {
		free(h);
		return -1;
	}
	if (hub_watch_init(h, e) < 0 || hub_up(ctx, h, e) < 0) {
		hub_free(h);
		return -1;
	}
	ctx->hub = h;
	return 0;
}

static bool peer_has_endpoint(const struct wg_device *d, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (!memcmp(d->peers[i].public_key, key, WG_KEY_LEN))
			return d->peers[i].has_endpoint;
	return false;
}

static bool peer_desired(const struct hub_peer *v, size_t n, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(v[i].public_key, key, WG_KEY_LEN))
			return true;
	return false;
}

static int sync_peers(struct ctl_ctx *ctx, const struct hub_peer *v, size_t n, mg_err *e)
{
	struct wg_device cur = {0}, want = {0};
	int r;

	if (wg_get_device(ctx->hub->wg, ctx->hub_ifname, &cur, e) < 0)
		return -1;
	want.peers = calloc(n + cur.n_peers + 1, sizeof(*want.peers));
	if (!want.peers) {
		wg_device_free(&cur);
		return mg_err_set(e, "out of memory");
	}
	snprintf(want.ifname, sizeof(want.ifname), "%s", ctx->hub_ifname);
	hub_eps_record(ctx->hub, &cur);
	hub_eps_prune(ctx->hub, v, n);
	/* update in place: peers that stay keep their sessions */
	for (size_t i = 0; i < n; i++) {
		struct wg_peer *p = &want.peers[want.n_peers++];
		const struct sockaddr_storage *ep = hub_eps_find(ctx->hub, v[i].public_key);
		memcpy(p->public_key, v[i].public_key, WG_KEY_LEN);
		p->allowed_ips = v[i].allowed;
		p->n_allowed_ips = v[i].n_allowed;
		p->replace_allowed_ips = true;
		/*
		 * A peer (re)added while its endpoint is remembered (after a restart of
		 * wireguard-go, hub_watch.c) gets it back, with a keepalive: setting one sends a
		 * keepalive at once, which starts the handshake from the hub's side instead of
		 * waiting for the peer to notice. The next sync turns it off again (0, as for
		 * every other peer: the connectors and laptops keep their own).
		 */
		if (ep && !peer_has_endpoint(&cur, v[i].public_key)) {
			p->endpoint = *ep;
			p->has_endpoint = true;
			p->persistent_keepalive = CTL_KEEPALIVE;
		}
	}
	for (size_t i = 0; i < cur.n_peers; i++) {
		if (peer_desired(v, n, cur.peers[i].public_key))
			continue;
		struct wg_peer *p = &want.peers[want.n_peers++];
		memcpy(p->public_key, cur.peers[i].public_key, WG_KEY_LEN);
		p->remove = true;
		char key[WG_KEY_B64_LEN];
		wgkey_to_base64(p->public_key, key);
		log_info("hub: peer %s removed", key);
	}
	wg_device_free(&cur);
	r = want.n_peers ? wg_set_device(ctx->hub->wg, &want, e) : 0;
	free(want.peers);
	return r;
}

static int sync_routes(struct ctl_ctx *ctx, const struct hub_peer *v, size_t n, mg_err *e)
{
	struct hub *h = ctx->hub;
	struct rtnl_route *want;
	size_t total = 0, nw = 0, nadd = 0, ndel = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		total += v[i].n_allowed;
	want = calloc(total ? total : 1, sizeof(*want));
	if (!want)
		return mg_err_set(e, "out of memory");
	for (size_t i = 0; i < n; i++)
		for (size_t k = v[i].n_own; k < v[i].n_allowed; k++) { /* own: in the mesh */
			/* egress: the default routes live in the hub's own table, looked up for
			 * packets from the hub interface only (hub_egress.c): never the host's */
			if (cidr_is_default(&v[i].allowed[k]))
				continue;
			want[nw].dst = v[i].allowed[k];
			want[nw].oif = h->ifindex;
			nw++;
		}
	r = rtnl_routes_sync(&h->rt, HUB_RTPROT, RT_TABLE_MAIN, want, nw, &nadd, &ndel, e);
	free(want);
	if (r == 0 && (nadd || ndel))
		log_info("hub: routes %zu added, %zu removed", nadd, ndel);
	return r;
}

static int hub_sync_now(struct ctl_ctx *ctx, mg_err *e);

int hub_revive(struct ctl_ctx *ctx, const char *why, mg_err *e)
{
	struct hub *h = ctx->hub;
	int64_t t0 = now_mono_ms();
	pid_t old = h->pid;
	size_t neps = h->n_eps;
	char how[64];
	uint32_t idx;

	hub_watch_forget(h, how, sizeof(how));
	if (old)
		log_warn("hub %s: %s (wireguard-go pid %d %s); restarting it", ctx->hub_ifname, why,
			 (int)old, how);
	else
		log_warn("hub %s: %s; rebuilding it", ctx->hub_ifname, why);
	wg_ctx_free(h->wg);
	h->wg = NULL;
	/* a daemon that hangs (rather than died) still holds the link: delete it */
	if (rtnl_link_index(&h->rt, ctx->hub_ifname, &idx, e) == 0 &&
	    rtnl_link_delete(&h->rt, idx, e) < 0)
		log_warn("hub %s: %s", ctx->hub_ifname, e->msg);
	if (hub_up(ctx, h, e) < 0)
		return -1;
	h->restarts++;
	if (hub_sync_now(ctx, e) < 0)
		return -1;
	log_warn("hub %s: back in %lld ms (restart %u): every peer restored, %zu with its "
		 "endpoint (the hub starts their handshakes)",
		 ctx->hub_ifname, (long long)(now_mono_ms() - t0), h->restarts, neps);
	return 0;
}

int hub_sync(struct ctl_ctx *ctx, mg_err *e)
{
	uint32_t idx;

	if (ctx->no_hub)
		return 0;
	/* the interface vanished (deleted, or wireguard-go died): build it again */
	if (ctx->hub &&
	    (!ctx->hub->wg || rtnl_link_index(&ctx->hub->rt, ctx->hub_ifname, &idx, e) != 0))
		return hub_revive(ctx, ctx->hub->wg ? "its interface vanished" : "it is down", e);
	if (!ctx->hub && hub_start(ctx, e) < 0)
		return -1;
	return hub_sync_now(ctx, e);
}

/* Peers and routes in line with the store, on a hub that is up. */
static int hub_sync_now(struct ctl_ctx *ctx, mg_err *e)
{
	struct hub_peer *v;
	size_t n;
	int r;

	if (hub_desired_peers(ctx, &v, &n, e) < 0)
		return mg_err_prefix(e, "hub");
	r = sync_peers(ctx, v, n, e);
	if (r == 0)
		r = sync_routes(ctx, v, n, e);
	if (r == 0)
		r = hub_egress_sync(ctx, egress_net(&ctx->store) != NULL, e);
	hub_peers_free(v, n);
	if (r < 0)
		return mg_err_prefix(e, "hub %s", ctx->hub_ifname);
	log_debug("hub %s: %zu peer(s)", ctx->hub_ifname, n);
	return 0;
}

void hub_stop(struct ctl_ctx *ctx, bool remove)
{
	struct hub *h = ctx->hub;
	struct rtnl_route *cur = NULL;
	size_t nc = 0;
	mg_err e = {""};

	if (!h)
		return;
	if (!remove) {
		log_info("hub %s left forwarding; the next start adopts it (--hub-down-on-exit "
			 "removes it instead)",
			 ctx->hub_ifname);
		hub_free(h);
		ctx->hub = NULL;
		return;
	}
	char how[64];
	hub_watch_forget(h, how, sizeof(how)); /* what follows ends it on purpose */
	if (h->wg && wg_destroy(h->wg, ctx->hub_ifname, &e) < 0)
		log_warn("hub %s: %s", ctx->hub_ifname, e.msg);
	if (rtnl_route_dump(&h->rt, HUB_RTPROT, 0, &cur, &nc, &e) == 0 && nc)
		rtnl_routes_apply(&h->rt, NULL, 0, cur, nc, HUB_RTPROT, NULL, &e);
	free(cur);
	if (hub_egress_sync(ctx, false, &e) < 0) /* the policy rules, if egress was on */
		log_warn("hub %s: %s", ctx->hub_ifname, e.msg);
	hub_free(h);
	ctx->hub = NULL;
	log_info("hub %s removed", ctx->hub_ifname);
}

/* --- one identity, one host (identity.c): the hub peer's endpoint ------------------- */

bool hub_peer_endpoint(struct ctl_ctx *ctx, const uint8_t key[WG_KEY_LEN],
		       struct sockaddr_storage *ep)
{
	struct wg_device cur = {0};
	mg_err e = {""};
	bool found = false;

	if (!ctx->hub || !ctx->hub->wg ||
	    wg_get_device(ctx->hub->wg, ctx->hub_ifname, &cur, &e) < 0)
		return false;
	for (size_t i = 0; i < cur.n_peers && !found; i++)
		if (!memcmp(cur.peers[i].public_key, key, WG_KEY_LEN) &&
		    cur.peers[i].has_endpoint) {
			*ep = cur.peers[i].endpoint;
			found = true;
		}
	wg_device_free(&cur);
	return found;
}

int hub_peer_reset(struct ctl_ctx *ctx, const uint8_t key[WG_KEY_LEN],
		   const struct sockaddr_storage *ep, mg_err *e)
{
	struct wg_peer p = {0};
	struct wg_device dev = {0};

	if (!ctx->hub || !ctx->hub->wg)
		return 0;
	snprintf(dev.ifname, sizeof(dev.ifname), "%s", ctx->hub_ifname);
	memcpy(p.public_key, key, WG_KEY_LEN);
	dev.peers = &p;
	dev.n_peers = 1;
	/* the remembered endpoint (hub_watch.c) is the holder's from now on: hub_sync
	 * re-adds the peer with it, never with the copy's */
	p.endpoint = *ep;
	p.has_endpoint = true;
	hub_eps_record(ctx->hub, &dev);
	p.has_endpoint = false;
	/* removing the peer drops the sessions a copy negotiated; hub_sync adds it again */
	p.remove = true;
	if (wg_set_device(ctx->hub->wg, &dev, e) < 0 || hub_sync(ctx, e) < 0)
		return -1;
	p.remove = false;
	p.endpoint = *ep;
	p.has_endpoint = true;
	return wg_set_device(ctx->hub->wg, &dev, e);
}
