/* SPDX-License-Identifier: MIT */
#include "dataplane.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "rtnl.h"
#include "wg.h"

struct dataplane {
	struct dp_opts o;
	struct rtnl rt;
	bool rt_open;
	struct rtnl_mon mon;
	bool mon_open;
	struct wg_ctx *wg;
	bool attached;
	uint32_t ifindex;
	size_t n_routes;
	bool drift; /* set by the event callback */
	struct nft_ctx *nft;
	uint8_t fw_hash[32]; /* of the spec last written; all zero: none */
	bool fw_dirty;       /* someone else touched our table */
	bool fw_nat;
	size_t fw_excl;
	char fw_access[512];
	char warnings[NFT_MAX_WARNINGS][NFT_WARN_LEN];
	int n_warnings;
};

int dp_open(struct dataplane **out, const struct dp_opts *o, mg_err *e)
{
	struct dataplane *dp = calloc(1, sizeof(*dp));

	*out = NULL;
	if (!dp)
		return mg_err_set(e, "out of memory");
	dp->o = *o;
	dp->wg = wg_ctx_new(o->wg_mode);
	if (!dp->wg) {
		mg_err_set(e, "out of memory");
		goto fail;
	}
	if (o->wg_bin[0] && wg_ctx_set_userspace_bin(dp->wg, o->wg_bin) < 0) {
		mg_err_set(e, "WireGuard program name \"%s\" is too long", o->wg_bin);
		goto fail;
	}
	if (rtnl_open(&dp->rt, e) < 0)
		goto fail;
	dp->rt_open = true;
	if (rtnl_mon_open(&dp->mon, e) < 0)
		goto fail;
	dp->mon_open = true;
	if (nft_open(&dp->nft, e) < 0 || nft_mon_open(dp->nft, e) < 0)
		goto fail;
	*out = dp;
	return 0;
fail:
	dp_close(dp);
	return -1;
}

void dp_close(struct dataplane *dp)
{
	if (!dp)
		return;
	if (dp->mon_open)
		rtnl_mon_close(&dp->mon);
	if (dp->rt_open)
		rtnl_close(&dp->rt);
	nft_close(dp->nft);
	wg_ctx_free(dp->wg);
	free(dp);
}

int dp_event_fd(struct dataplane *dp, int which)
{
	if (which == 0)
		return dp->mon_open ? rtnl_mon_fd(&dp->mon) : -1;
	return dp->nft ? nft_mon_fd(dp->nft) : -1;
}

static void on_event(const struct rtnl_event *ev, void *arg)
{
	struct dataplane *dp = arg;

	switch (ev->type) {
	case RTNL_EV_LINK_DEL:
		if (ev->ifindex == dp->ifindex || !strcmp(ev->ifname, dp->o.ifname)) {
			log_warn("tunnel %s was deleted", dp->o.ifname);
			dp->attached = false;
			dp->ifindex = 0;
			dp->drift = true;
		}
		break;
	case RTNL_EV_LINK_NEW:
		if (ev->ifindex == dp->ifindex && dp->ifindex && !ev->up) {
			/* also our own creation echoing back: the reconcile decides */
			log_debug("tunnel %s reported down", dp->o.ifname);
			dp->drift = true;
		}
		break;
	case RTNL_EV_ROUTE_DEL:
		if (ev->protocol == RTPROT_MESHGATE)
			dp->drift = true;
		break;
	case RTNL_EV_ADDR_DEL:
		if (ev->ifindex == dp->ifindex && dp->ifindex)
			dp->drift = true;
		break;
	case RTNL_EV_OVERFLOW:
		dp->drift = true;
		break;
	default:
		break;
	}
}

int dp_event_read(struct dataplane *dp, bool *drift, mg_err *e)
{
	bool touched = false;

	dp->drift = false;
	*drift = false;
	if (dp->mon_open && rtnl_mon_read(&dp->mon, on_event, dp, e) < 0)
		return -1;
	if (dp->nft && nft_mon_read(dp->nft, &touched, e) < 0)
		return -1;
	if (touched) {
		log_warn("firewall table inet %s changed by someone else", NFT_TABLE_NAME);
		dp->fw_dirty = true;
	}
	*drift = dp->drift || touched;
	return 0;
}

static int resolve_endpoint(const char *ep, struct sockaddr_storage *ss, mg_err *e)
{
	char host[CONFIG_ENDPOINT_MAX], port[8];
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *res;
	uint16_t p;
	int r;

	if (config_split_endpoint(ep, host, sizeof(host), &p) < 0)
		return mg_err_set(e, "hub endpoint \"%s\" is not host:port", ep);
	snprintf(port, sizeof(port), "%u", p);
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return mg_err_set(e, "hub endpoint %s does not resolve: %s", ep, gai_strerror(r));
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

static bool same_cidr_sets(const struct cidr *a, size_t na, const struct cidr *b, size_t nb)
{
	/* both sorted and unique: config_parse sorts; sort a copy of what the device said */
	if (na != nb)
		return false;
	struct cidr *tmp = malloc((nb ? nb : 1) * sizeof(*tmp));
	if (!tmp)
		return false;
	memcpy(tmp, b, nb * sizeof(*tmp));
	size_t n = cidr_sort_unique(tmp, nb);
	bool same = n == na;
	for (size_t i = 0; same && i < n; i++)
		same = cidr_equal(&a[i], &tmp[i]);
	free(tmp);
	return same;
}

/* Key and hub peer; keeps the session when the hub peer stays the same. */
static int apply_wg(struct dataplane *dp, const struct mg_config *c, const uint8_t priv[WG_KEY_LEN],
		    int *changes, mg_err *e)
{
	struct wg_device cur = {0}, want = {0};
	struct wg_peer hub = {0};
	bool key_ok, peer_ok = false, others = false;
	int r;

	if (resolve_endpoint(c->tunnel.hub_endpoint, &hub.endpoint, e) < 0)
		return -1;
	hub.has_endpoint = true;
	memcpy(hub.public_key, c->tunnel.hub_public_key, WG_KEY_LEN);
	hub.persistent_keepalive = (uint16_t)c->tunnel.keepalive;
	hub.allowed_ips = c->routes; /* borrowed: not freed below */
	hub.n_allowed_ips = c->n_routes;
	hub.replace_allowed_ips = true;

	if (wg_get_device(dp->wg, dp->o.ifname, &cur, e) < 0)
		return mg_err_prefix(e, "reading tunnel %s", dp->o.ifname);
	key_ok = cur.has_private_key && !memcmp(cur.private_key, priv, WG_KEY_LEN);
	for (size_t i = 0; i < cur.n_peers; i++) {
		struct wg_peer *p = &cur.peers[i];
		if (memcmp(p->public_key, hub.public_key, WG_KEY_LEN)) {
			others = true;
			continue;
		}
		peer_ok = p->has_endpoint && same_endpoint(&p->endpoint, &hub.endpoint) &&
			  p->persistent_keepalive == hub.persistent_keepalive &&
			  same_cidr_sets(c->routes, c->n_routes, p->allowed_ips, p->n_allowed_ips);
	}
	if (key_ok && peer_ok && !others) {
		wg_device_free(&cur);
		return 0;
	}

	snprintf(want.ifname, sizeof(want.ifname), "%s", dp->o.ifname);
	memcpy(want.private_key, priv, WG_KEY_LEN);
	want.has_private_key = true;
	if (!key_ok) {
		/* a new key invalidates every session anyway: start clean */
		want.replace_peers = true;
		want.peers = &hub;
		want.n_peers = 1;
		r = wg_set_device(dp->wg, &want, e);
	} else {
		/* update the hub peer in place (no handshake lost) and drop strangers */
		size_t n = 1;
		want.peers = calloc(cur.n_peers + 1, sizeof(*want.peers));
		if (!want.peers) {
			wg_device_free(&cur);
			return mg_err_set(e, "out of memory");
		}
		want.peers[0] = hub;
		for (size_t i = 0; i < cur.n_peers; i++) {
			if (!memcmp(cur.peers[i].public_key, hub.public_key, WG_KEY_LEN))
				continue;
			memcpy(want.peers[n].public_key, cur.peers[i].public_key, WG_KEY_LEN);
			want.peers[n].remove = true;
			n++;
		}
		want.n_peers = n;
		r = wg_set_device(dp->wg, &want, e);
		free(want.peers);
	}
	wgkey_wipe(want.private_key, WG_KEY_LEN);
	wg_device_free(&cur);
	if (r < 0)
		return mg_err_prefix(e, "configuring tunnel %s", dp->o.ifname);
	(*changes)++;
	return 0;
}

/* The tunnel's addresses: the config's (IPv4 or IPv6, and the IPv6 one of a dual-stack
 * mesh), nothing else. */
static int apply_addr(struct dataplane *dp, const struct mg_config *c, int *changes, mg_err *e)
{
	const struct cidr *want[2] = {&c->tunnel.address, &c->tunnel.address6};
	size_t nwant = c->tunnel.has_address6 ? 2 : 1;
	struct rtnl_addr *addrs = NULL;
	size_t n = 0;
	bool have[2] = {false, false};

	if (rtnl_addr_list(&dp->rt, AF_UNSPEC, &addrs, &n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool mine = false;
		if (addrs[i].ifindex != dp->ifindex || addrs[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		for (size_t k = 0; k < nwant; k++)
			if (cidr_equal(&addrs[i].addr, want[k]))
				mine = have[k] = true;
		if (mine)
			continue;
		/* an old tunnel address from a previous config */
		if (rtnl_addr_del(&dp->rt, dp->ifindex, &addrs[i].addr, e) < 0) {
			free(addrs);
			return -1;
		}
		(*changes)++;
	}
	free(addrs);
	for (size_t k = 0; k < nwant; k++) {
		if (have[k])
			continue;
		/* no prefix route: the mesh range is one of our routes, tagged as ours; no
		 * duplicate address detection (nothing else is on the link: a tentative
		 * IPv6 address would not be usable for a while) */
		if (rtnl_addr_add(&dp->rt, dp->ifindex, want[k],
				  IFA_F_NOPREFIXROUTE |
				      (want[k]->family == AF_INET6 ? IFA_F_NODAD : 0),
				  e) < 0)
			return mg_err_prefix(e, "tunnel address");
		(*changes)++;
	}
	return 0;
}

static int apply_routes(struct dataplane *dp, const struct mg_config *c, int *changes, mg_err *e)
{
	struct rtnl_route *want;
	size_t nw = 0, nadd = 0, ndel = 0;
	int r;

	want = calloc(c->n_routes ? c->n_routes : 1, sizeof(*want));
	if (!want)
		return mg_err_set(e, "out of memory");
	for (size_t i = 0; i < c->n_routes; i++) {
		if (cidr_is_default(&c->routes[i]))
			continue; /* egress: the mesh exits here, this host's default stays */
		want[nw].dst = c->routes[i];
		want[nw].oif = dp->ifindex;
		nw++;
	}
	r = rtnl_routes_sync(&dp->rt, RTPROT_MESHGATE, RT_TABLE_MAIN, want, nw, &nadd, &ndel, e);
	free(want);
	if (r < 0)
		return -1;
	if (nadd || ndel)
		log_info("routes: %zu added or replaced, %zu removed", nadd, ndel);
	*changes += (int)(nadd + ndel);
	dp->n_routes = nw;
	return 0;
}

/* LAN interfaces for rp_filter: given, or every interface with a global address. */
static size_t lan_ifs(struct dataplane *dp, const char **out, char names[][IF_NAMESIZE], size_t max)
{
	struct rtnl_addr *addrs = NULL;
	size_t n = 0, k = 0;
	mg_err e;

	if (dp->o.n_lan_ifs) {
		for (size_t i = 0; i < dp->o.n_lan_ifs && i < max; i++)
			out[k++] = dp->o.lan_ifs[i];
		return k;
	}
	if (rtnl_addr_list(&dp->rt, AF_UNSPEC, &addrs, &n, &e) < 0)
		return 0;
	for (size_t i = 0; i < n && k < max; i++) {
		char name[IF_NAMESIZE];
		bool dup = false;
		if (addrs[i].ifindex == dp->ifindex || addrs[i].scope != RT_SCOPE_UNIVERSE ||
		    !if_indextoname(addrs[i].ifindex, name))
			continue;
		for (size_t j = 0; j < k; j++)
			dup |= !strcmp(out[j], name);
		if (dup)
			continue;
		snprintf(names[k], IF_NAMESIZE, "%s", name);
		out[k] = names[k];
		k++;
	}
	free(addrs);
	return k;
}

int dp_check_sysctls(struct dataplane *dp, int *changed, mg_err *e)
{
	const char *lan[DP_MAX_LAN_IFS];
	char names[DP_MAX_LAN_IFS][IF_NAMESIZE];
	size_t n = lan_ifs(dp, lan, names, DP_MAX_LAN_IFS);

	return sysctl_apply(&dp->o.sysctl, dp->o.ifname, lan, n, changed, e);
}

/* A digest of everything the firewall is made of, to skip identical rewrites. */
static void fw_digest(const struct nft_spec *s, uint8_t out[32])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned len = 32;
	uint8_t flags[5] = {s->nat, s->egress, s->mss_clamp, s->open_docker_user, s->open_ufw};

	memset(out, 0xff, 32); /* never the all-zero "nothing written" value */
	if (!m || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(m);
		return;
	}
	EVP_DigestUpdate(m, s->tun_if, sizeof(s->tun_if));
	EVP_DigestUpdate(m, flags, sizeof(flags));
	EVP_DigestUpdate(m, s->exclude, s->n_exclude * sizeof(*s->exclude));
	EVP_DigestUpdate(m, s->lan, s->n_lan * sizeof(*s->lan));
	for (size_t i = 0; i < s->n_access; i++) {
		EVP_DigestUpdate(m, &s->access[i].cidr, sizeof(s->access[i].cidr));
		EVP_DigestUpdate(m, &s->access[i].mode, sizeof(s->access[i].mode));
		EVP_DigestUpdate(m, s->access[i].ports,
				 s->access[i].n_ports * sizeof(*s->access[i].ports));
	}
	EVP_DigestFinal_ex(m, out, &len);
	EVP_MD_CTX_free(m);
}

static int apply_firewall(struct dataplane *dp, const struct mg_config *c, int *changes, mg_err *e)
{
	struct nft_spec s = {
	    .nat = c->nat.enabled,
	    .exclude = c->nat.exclude,
	    .n_exclude = c->nat.n_exclude,
	    .egress = c->egress,
	    .lan = c->advertised,
	    .n_lan = c->n_advertised,
	    .access = c->access,
	    .n_access = c->n_access,
	    .mss_clamp = !dp->o.no_mss_clamp,
	    .open_docker_user = dp->o.open_docker_user,
	    .open_ufw = dp->o.open_ufw,
	};
	uint8_t h[32];

	snprintf(s.tun_if, sizeof(s.tun_if), "%s", dp->o.ifname);
	fw_digest(&s, h);
	if (!dp->fw_dirty && !memcmp(h, dp->fw_hash, sizeof(h)))
		return 0;
	if (nft_apply(dp->nft, &s, 0, e) < 0)
		return -1;
	if (dp->fw_dirty)
		log_warn("firewall table inet %s restored", NFT_TABLE_NAME);
	memcpy(dp->fw_hash, h, sizeof(h));
	dp->fw_dirty = false;
	(*changes)++;
	dp->fw_nat = s.nat || s.egress;
	dp->fw_excl = s.n_exclude;
	size_t off = 0;
	dp->fw_access[0] = '\0';
	for (size_t i = 0; i < c->n_access && off < sizeof(dp->fw_access) - 1; i++) {
		char b[CIDR_STRLEN];
		off += (size_t)snprintf(dp->fw_access + off, sizeof(dp->fw_access) - off, "%s%s=%s",
					i ? " " : "", cidr_format(&c->access[i].cidr, b),
					access_mode_name(c->access[i].mode));
	}
	dp_firewall_scan(dp);
	return 0;
}

void dp_firewall_scan(struct dataplane *dp)
{
	char w[NFT_MAX_WARNINGS][NFT_WARN_LEN];
	mg_err e;
	int n;

	/* what else on this host will still drop mesh traffic */
	n = nft_coexist_scan(dp->nft, dp->o.ifname, w, NFT_MAX_WARNINGS, &e);
	if (n < 0) {
		log_warn("coexistence scan: %s", e.msg);
		return;
	}
	for (int i = 0; i < n; i++) {
		bool known = false;
		for (int k = 0; k < dp->n_warnings; k++)
			known |= !strcmp(dp->warnings[k], w[i]);
		if (!known)
			log_warn("coexistence: %s", w[i]);
	}
	memcpy(dp->warnings, w, sizeof(w));
	dp->n_warnings = n;
}

bool dp_firewall_missing(struct dataplane *dp)
{
	mg_err e;
	static const uint8_t none[32];

	if (!dp->nft || !memcmp(dp->fw_hash, none, sizeof(none)))
		return false; /* nothing written yet */
	if (nft_table_present(dp->nft, &e) == 0) {
		log_warn("firewall table inet %s is gone", NFT_TABLE_NAME);
		dp->fw_dirty = true;
		return true;
	}
	return false;
}

/* A userspace tunnel whose daemon no longer answers: its link and socket go. */
static int drop_dead_tunnel(struct dataplane *dp, mg_err *e)
{
	uint32_t idx;
	int r = rtnl_link_index(&dp->rt, dp->o.ifname, &idx, e);

	if (r == -1 || (r == 0 && rtnl_link_delete(&dp->rt, idx, e) < 0))
		return mg_err_prefix(e, "removing dead tunnel %s", dp->o.ifname);
	if (wg_uapi_reap_stale(dp->wg, dp->o.ifname, e) < 0)
		return -1;
	dp->attached = false;
	dp->ifindex = 0;
	return 0;
}

int dp_apply(struct dataplane *dp, const struct mg_config *c, const uint8_t priv[WG_KEY_LEN],
	     int *changes, mg_err *e)
{
	uint32_t idx = 0;
	int r, sc = 0;
	bool rebuilt = false;

	*changes = 0;
again:
	r = rtnl_link_index(&dp->rt, dp->o.ifname, &idx, e);
	if (r == -1)
		return -1;
	if (r == RTNL_ENODEV || !dp->attached) {
		if (wg_attach(dp->wg, dp->o.ifname, e) < 0)
			return mg_err_prefix(e, "tunnel %s", dp->o.ifname);
		if (wg_created(dp->wg)) {
			log_info("tunnel %s created (%s WireGuard)", dp->o.ifname,
				 wg_backend_name(dp->wg));
			(*changes)++;
		} else if (!dp->attached) {
			log_info("tunnel %s adopted (%s WireGuard)", dp->o.ifname,
				 wg_backend_name(dp->wg));
		}
		dp->attached = true;
		r = rtnl_link_index(&dp->rt, dp->o.ifname, &idx, e);
		if (r == -1)
			return mg_err_prefix(e, "tunnel %s", dp->o.ifname);
		if (r != 0)
			return mg_err_set(e, "tunnel %s vanished after creation", dp->o.ifname);
	}
	dp->ifindex = idx;
	if (apply_wg(dp, c, priv, changes, e) < 0) {
		if (rebuilt || !wg_userspace_dead(dp->wg, dp->o.ifname))
			return -1;
		/* its wireguard-go died (and was not our child to reap): start afresh */
		log_warn("tunnel %s: its userspace WireGuard is gone (%s); rebuilding it",
			 dp->o.ifname, e->msg);
		if (drop_dead_tunnel(dp, e) < 0)
			return -1;
		rebuilt = true;
		goto again;
	}
	if (rtnl_link_set(&dp->rt, dp->ifindex, true, (uint32_t)c->tunnel.mtu, e) < 0)
		return mg_err_prefix(e, "tunnel %s up/MTU", dp->o.ifname);
	if (apply_addr(dp, c, changes, e) < 0 || apply_routes(dp, c, changes, e) < 0)
		return -1;
	if (dp_check_sysctls(dp, &sc, e) < 0)
		return mg_err_prefix(e, "router sysctls");
	*changes += sc;
	if (apply_firewall(dp, c, changes, e) < 0)
		return mg_err_prefix(e, "firewall");
	return 0;
}

int dp_fw_counters(struct dataplane *dp, struct nft_counters *out, mg_err *e)
{
	if (!dp || !dp->nft) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return nft_counters_read(dp->nft, out, e);
}

int dp_stats(struct dataplane *dp, struct dp_stats *s)
{
	struct wg_device dev = {0};
	mg_err e;

	static const uint8_t none[32];

	memset(s, 0, sizeof(*s));
	s->routes = dp->n_routes;
	s->fw_present = memcmp(dp->fw_hash, none, sizeof(none)) != 0;
	s->nat = dp->fw_nat;
	s->exclusions = dp->fw_excl;
	snprintf(s->access, sizeof(s->access), "%s", dp->fw_access);
	s->n_warnings = dp->n_warnings;
	s->warnings = (const char(*)[NFT_WARN_LEN])dp->warnings;
	if (!dp->attached)
		return 0;
	s->backend = wg_backend_name(dp->wg);
	if (wg_get_device(dp->wg, dp->o.ifname, &dev, &e) < 0)
		return -1;
	s->up = true;
	for (size_t i = 0; i < dev.n_peers; i++) {
		if (dev.peers[i].last_handshake_sec > s->last_handshake)
			s->last_handshake = dev.peers[i].last_handshake_sec;
		s->rx_bytes += dev.peers[i].rx_bytes;
		s->tx_bytes += dev.peers[i].tx_bytes;
	}
	wg_device_free(&dev);
	return 0;
}

int dp_lan_subnets(struct dataplane *dp, struct cidr **out, size_t *n_out, mg_err *e)
{
	struct rtnl_addr *addrs = NULL;
	size_t n = 0, k = 0;

	*out = NULL;
	*n_out = 0;
	if (rtnl_addr_list(&dp->rt, AF_UNSPEC, &addrs, &n, e) < 0)
		return -1;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out) {
		free(addrs);
		return mg_err_set(e, "out of memory");
	}
	uint32_t tun = 0;
	mg_err ie;
	if (rtnl_link_index(&dp->rt, dp->o.ifname, &tun, &ie) != 0)
		tun = 0;
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].scope != RT_SCOPE_UNIVERSE || (tun && addrs[i].ifindex == tun))
			continue;
		struct cidr c = addrs[i].addr;
		if (c.len == cidr_max_len(&c))
			continue; /* a host address (/32) is no subnet to protect */
		cidr_mask(&c);
		(*out)[k++] = c;
	}
	free(addrs);
	*n_out = cidr_sort_unique(*out, k);
	return 0;
}

int dp_teardown(struct dataplane *dp, mg_err *e)
{
	struct rtnl_route *cur = NULL;
	size_t nc = 0, nfailed = 0;
	uint32_t idx = 0;
	int r;

	/* a socket whose daemon was killed serves nothing: remove it, adopt nothing */
	if (wg_uapi_reap_stale(dp->wg, dp->o.ifname, e) < 0)
		return -1;
	r = rtnl_link_index(&dp->rt, dp->o.ifname, &idx, e);
	if (r == -1)
		return -1;
	if (r == 0 || wg_uapi_sock_exists(dp->wg, dp->o.ifname)) {
		if (!dp->attached && wg_attach(dp->wg, dp->o.ifname, e) < 0)
			log_warn("tunnel %s: %s (deleting the link anyway)", dp->o.ifname, e->msg);
		if (wg_destroy(dp->wg, dp->o.ifname, e) < 0) {
			if (r == 0 && rtnl_link_delete(&dp->rt, idx, e) < 0)
				return mg_err_prefix(e, "removing tunnel %s", dp->o.ifname);
		}
		log_info("tunnel %s removed", dp->o.ifname);
	}
	dp->attached = false;
	dp->ifindex = 0;
	if (dp->nft && nft_remove(dp->nft, e) < 0)
		return mg_err_prefix(e, "removing the firewall table");
	memset(dp->fw_hash, 0, sizeof(dp->fw_hash));
	/* routes of ours that outlived the link (on other interfaces or tables) */
	if (rtnl_route_dump(&dp->rt, RTPROT_MESHGATE, 0, &cur, &nc, e) < 0)
		return -1;
	if (nc && rtnl_routes_apply(&dp->rt, NULL, 0, cur, nc, RTPROT_MESHGATE, &nfailed, e) < 0) {
		free(cur);
		return mg_err_prefix(e, "removing %zu leftover routes", nfailed);
	}
	if (nc)
		log_info("%zu leftover route%s of ours removed", nc, nc == 1 ? "" : "s");
	free(cur);
	dp->n_routes = 0;
	return 0;
}

bool dp_reap_child(struct dataplane *dp, int pid)
{
	if (wg_reap_child(dp->wg, pid)) {
		dp->attached = false;
		return true;
	}
	return false;
}
