/* SPDX-License-Identifier: MIT */
/* Kernel WireGuard: generic netlink family "wireguard"; links through rtnetlink. */
#include "wg_kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "nl.h"
#include "rtnl.h"

/* ---- generic netlink through the shared loop (lib/nl.h) ---- */

struct genl {
	struct nl_sock s;
};

static int genl_open(struct genl *g, mg_err *e)
{
	/* a dump skb holds at most 32 KiB */
	const struct nl_opts o = {.rcvbuf = 32768, .timeout_s = 10};
	return nl_open(&g->s, NETLINK_GENERIC, &o, "generic netlink", e);
}

static void genl_close(struct genl *g)
{
	if (g->s.buf)
		wgkey_wipe(g->s.buf, g->s.buflen); /* replies may have carried the private key */
	nl_close(&g->s);
}

/* Send nlh, run cb over replies until ACK/DONE. 0, or -1 with errno (extack: kernel text). */
static int genl_talk(struct genl *g, const struct nlmsghdr *nlh, mnl_cb_t cb, void *data,
		     char *extack, size_t extack_len)
{
	return nl_talk(&g->s, nlh, cb, data, extack, extack_len);
}

static int family_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate(a, MNL_TYPE_U16) == 0)
		*(int *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data) < 0
		   ? MNL_CB_ERROR
		   : MNL_CB_OK;
}

static int resolve_family(struct genl *g, int *family, mg_err *e)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = nl_seq(&g->s);
	struct genlmsghdr *gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = CTRL_CMD_GETFAMILY;
	gh->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	*family = 0;
	char xa[NL_EXTACK_LEN];
	if (genl_talk(g, nlh, family_cb, family, xa, sizeof(xa)) < 0) {
		int err = errno;
		mg_err_set(e, "generic netlink family \"%s\": %s%s%s", WG_GENL_NAME, strerror(err),
			   xa, err == ENOENT ? " (no WireGuard kernel module)" : "");
		errno = err;
		return -1;
	}
	if (!*family) {
		errno = ENOENT;
		return mg_err_set(e, "generic netlink family \"%s\": no id in reply", WG_GENL_NAME);
	}
	return 0;
}

/* Resolve (and cache in ctx) the "wireguard" genl family: 0, or -1 (errno ENOENT: no module). */
static int wg_kernel_family(struct wg_ctx *ctx, mg_err *e)
{
	if (*wg_ctx_genl_family(ctx))
		return 0;
	struct genl *g = malloc(sizeof(*g));
	if (!g)
		return mg_err_set(e, "out of memory");
	if (genl_open(g, e) < 0) {
		free(g);
		return -1;
	}
	int family;
	int ret = resolve_family(g, &family, e);
	int err = errno;
	genl_close(g);
	free(g);
	if (ret < 0) {
		errno = err;
		return -1;
	}
	*wg_ctx_genl_family(ctx) = family;
	return 0;
}

/* ---- SET_DEVICE message builder ---- */

static bool put_endpoint(struct nlmsghdr *nlh, size_t buflen, const struct wg_peer *p)
{
	if (!p->has_endpoint)
		return true;
	size_t len = p->endpoint.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						       : sizeof(struct sockaddr_in);
	return mnl_attr_put_check(nlh, buflen, WGPEER_A_ENDPOINT, len, &p->endpoint);
}

static bool put_allowed_ip(struct nlmsghdr *nlh, size_t buflen, const struct cidr *c)
{
	struct nlattr *one = mnl_attr_nest_start_check(nlh, buflen, 0);
	if (!one)
		return false;
	if (!mnl_attr_put_u16_check(nlh, buflen, WGALLOWEDIP_A_FAMILY, c->family) ||
	    !mnl_attr_put_check(nlh, buflen, WGALLOWEDIP_A_IPADDR, (size_t)cidr_addr_len(c),
				c->addr) ||
	    !mnl_attr_put_u8_check(nlh, buflen, WGALLOWEDIP_A_CIDR_MASK, c->len)) {
		mnl_attr_nest_cancel(nlh, one);
		return false;
	}
	mnl_attr_nest_end(nlh, one);
	return true;
}

/*
 * Put peer p starting at allowed IP *aip. Returns 1 when the whole peer fit,
 * 0 when only part of it did (*aip advanced, more to send), -1 when nothing of
 * it fit (message left as before).
 */
static int put_peer(struct nlmsghdr *nlh, size_t buflen, const struct wg_peer *p, size_t *aip)
{
	size_t first = *aip;
	struct nlattr *pn = mnl_attr_nest_start_check(nlh, buflen, 0);
	if (!pn)
		return -1;
	if (!mnl_attr_put_check(nlh, buflen, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, p->public_key))
		goto cancel;
	if (first == 0) {
		/* The peer's own attributes go with its first part only. */
		uint32_t flags = (p->remove ? WGPEER_F_REMOVE_ME : 0) |
				 (p->replace_allowed_ips ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);
		if (flags && !mnl_attr_put_u32_check(nlh, buflen, WGPEER_A_FLAGS, flags))
			goto cancel;
		if (!p->remove &&
		    (!put_endpoint(nlh, buflen, p) ||
		     !mnl_attr_put_u16_check(nlh, buflen, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
					     p->persistent_keepalive)))
			goto cancel;
	}
	if (!p->remove && *aip < p->n_allowed_ips) {
		struct nlattr *ai = mnl_attr_nest_start_check(nlh, buflen, WGPEER_A_ALLOWEDIPS);
		if (!ai)
			goto cancel;
		while (*aip < p->n_allowed_ips) {
			if (!put_allowed_ip(nlh, buflen, &p->allowed_ips[*aip])) {
				if (*aip == first) {
					mnl_attr_nest_cancel(nlh, ai);
					goto cancel;
				}
				mnl_attr_nest_end(nlh, ai);
				mnl_attr_nest_end(nlh, pn);
				return 0;
			}
			(*aip)++;
		}
		mnl_attr_nest_end(nlh, ai);
	}
	mnl_attr_nest_end(nlh, pn);
	return 1;
cancel:
	*aip = first;
	mnl_attr_nest_cancel(nlh, pn);
	return -1;
}

struct nlmsghdr *wg_nl_build_set(void *buf, size_t bufsize, uint16_t family, uint32_t seq,
				 const struct wg_device *dev, struct wg_nl_cursor *cur, mg_err *e)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	struct genlmsghdr *gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = WG_CMD_SET_DEVICE;
	gh->version = WG_GENL_VERSION;
	if (!mnl_attr_put_strz_check(nlh, bufsize, WGDEVICE_A_IFNAME, dev->ifname))
		goto too_small;
	if (!cur->started) {
		/* Device attributes and REPLACE_PEERS travel in the first message only. */
		if (dev->has_private_key &&
		    !mnl_attr_put_check(nlh, bufsize, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN,
					dev->private_key))
			goto too_small;
		if (dev->listen_port &&
		    !mnl_attr_put_u16_check(nlh, bufsize, WGDEVICE_A_LISTEN_PORT, dev->listen_port))
			goto too_small;
		if (dev->has_fwmark &&
		    !mnl_attr_put_u32_check(nlh, bufsize, WGDEVICE_A_FWMARK, dev->fwmark))
			goto too_small;
		if (dev->replace_peers && !mnl_attr_put_u32_check(nlh, bufsize, WGDEVICE_A_FLAGS,
								  WGDEVICE_F_REPLACE_PEERS))
			goto too_small;
		cur->started = true;
	}
	if (cur->peer < dev->n_peers) {
		struct nlattr *peers = mnl_attr_nest_start_check(nlh, bufsize, WGDEVICE_A_PEERS);
		if (!peers)
			goto too_small;
		bool any = false;
		while (cur->peer < dev->n_peers) {
			int ret = put_peer(nlh, bufsize, &dev->peers[cur->peer], &cur->aip);
			if (ret < 0 && !any) {
				mnl_attr_nest_cancel(nlh, peers);
				goto too_small;
			}
			if (ret <= 0) {
				/* full: the rest goes in the next message */
				mnl_attr_nest_end(nlh, peers);
				return nlh;
			}
			any = true;
			cur->peer++;
			cur->aip = 0;
		}
		mnl_attr_nest_end(nlh, peers);
	}
	cur->done = true;
	return nlh;
too_small:
	mg_err_set(e, "WireGuard netlink message buffer (%zu bytes) too small for one peer",
		   bufsize);
	return NULL;
}

/* ---- GET_DEVICE parser ---- */

struct tb_ctx {
	const struct nlattr **tb;
	uint16_t max;
};

static int tb_cb(const struct nlattr *a, void *data)
{
	struct tb_ctx *t = data;
	uint16_t type = mnl_attr_get_type(a);
	if (type <= t->max)
		t->tb[type] = a;
	return MNL_CB_OK;
}

static int parse_allowed_ip(const struct nlattr *a, struct wg_peer *peer)
{
	const struct nlattr *tb[WGALLOWEDIP_A_MAX + 1] = {0};
	struct tb_ctx t = {tb, WGALLOWEDIP_A_MAX};
	if (mnl_attr_parse_nested(a, tb_cb, &t) < 0 || !tb[WGALLOWEDIP_A_FAMILY] ||
	    !tb[WGALLOWEDIP_A_IPADDR] || !tb[WGALLOWEDIP_A_CIDR_MASK] ||
	    mnl_attr_validate(tb[WGALLOWEDIP_A_FAMILY], MNL_TYPE_U16) < 0 ||
	    mnl_attr_validate(tb[WGALLOWEDIP_A_CIDR_MASK], MNL_TYPE_U8) < 0)
		return -1;
	struct cidr c = {0};
	uint16_t fam = mnl_attr_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
	if (fam != AF_INET && fam != AF_INET6)
		return 0; /* unknown family: ignore */
	c.family = (uint8_t)fam;
	c.len = mnl_attr_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]);
	if (mnl_attr_get_payload_len(tb[WGALLOWEDIP_A_IPADDR]) != (uint16_t)cidr_addr_len(&c) ||
	    c.len > cidr_max_len(&c))
		return -1;
	memcpy(c.addr, mnl_attr_get_payload(tb[WGALLOWEDIP_A_IPADDR]), (size_t)cidr_addr_len(&c));
	return wg_peer_add_allowed_ip(peer, &c);
}

static int parse_peer(const struct nlattr *a, struct wg_device *dev)
{
	const struct nlattr *tb[WGPEER_A_MAX + 1] = {0};
	struct tb_ctx t = {tb, WGPEER_A_MAX};
	if (mnl_attr_parse_nested(a, tb_cb, &t) < 0 || !tb[WGPEER_A_PUBLIC_KEY] ||
	    mnl_attr_get_payload_len(tb[WGPEER_A_PUBLIC_KEY]) != WG_KEY_LEN)
		return -1;
	const void *pub = mnl_attr_get_payload(tb[WGPEER_A_PUBLIC_KEY]);
	struct wg_peer *peer;
	/* A peer split across messages repeats its public key: continue it. */
	if (dev->n_peers && !memcmp(dev->peers[dev->n_peers - 1].public_key, pub, WG_KEY_LEN)) {
		peer = &dev->peers[dev->n_peers - 1];
	} else {
		peer = wg_device_add_peer(dev);
		if (!peer)
			return -1;
		memcpy(peer->public_key, pub, WG_KEY_LEN);
	}
	if (tb[WGPEER_A_ENDPOINT]) {
		uint16_t len = mnl_attr_get_payload_len(tb[WGPEER_A_ENDPOINT]);
		const struct sockaddr *sa = mnl_attr_get_payload(tb[WGPEER_A_ENDPOINT]);
		if ((len == sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) ||
		    (len == sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6)) {
			memcpy(&peer->endpoint, sa, len);
			peer->has_endpoint = true;
		}
	}
	if (tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] &&
	    mnl_attr_validate(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL], MNL_TYPE_U16) == 0)
		peer->persistent_keepalive =
		    mnl_attr_get_u16(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
	if (tb[WGPEER_A_LAST_HANDSHAKE_TIME] &&
	    mnl_attr_get_payload_len(tb[WGPEER_A_LAST_HANDSHAKE_TIME]) == 2 * sizeof(int64_t)) {
		int64_t ts[2];
		memcpy(ts, mnl_attr_get_payload(tb[WGPEER_A_LAST_HANDSHAKE_TIME]), sizeof(ts));
		peer->last_handshake_sec = ts[0];
		peer->last_handshake_nsec = ts[1];
	}
	if (tb[WGPEER_A_RX_BYTES] && mnl_attr_validate(tb[WGPEER_A_RX_BYTES], MNL_TYPE_U64) == 0)
		peer->rx_bytes = mnl_attr_get_u64(tb[WGPEER_A_RX_BYTES]);
	if (tb[WGPEER_A_TX_BYTES] && mnl_attr_validate(tb[WGPEER_A_TX_BYTES], MNL_TYPE_U64) == 0)
		peer->tx_bytes = mnl_attr_get_u64(tb[WGPEER_A_TX_BYTES]);
	if (tb[WGPEER_A_ALLOWEDIPS]) {
		const struct nlattr *ip;
		mnl_attr_for_each_nested(ip, tb[WGPEER_A_ALLOWEDIPS])
		{
			if (parse_allowed_ip(ip, peer) < 0)
				return -1;
		}
	}
	return 0;
}

int wg_nl_parse_get(const struct nlmsghdr *nlh, struct wg_device *dev, mg_err *e)
{
	const struct nlattr *tb[WGDEVICE_A_MAX + 1] = {0};
	struct tb_ctx t = {tb, WGDEVICE_A_MAX};
	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), tb_cb, &t) < 0)
		return mg_err_set(e, "malformed WireGuard device message");
	if (tb[WGDEVICE_A_IFNAME] &&
	    mnl_attr_validate(tb[WGDEVICE_A_IFNAME], MNL_TYPE_NUL_STRING) == 0)
		snprintf(dev->ifname, sizeof(dev->ifname), "%s",
			 mnl_attr_get_str(tb[WGDEVICE_A_IFNAME]));
	if (tb[WGDEVICE_A_PRIVATE_KEY] &&
	    mnl_attr_get_payload_len(tb[WGDEVICE_A_PRIVATE_KEY]) == WG_KEY_LEN) {
		memcpy(dev->private_key, mnl_attr_get_payload(tb[WGDEVICE_A_PRIVATE_KEY]),
		       WG_KEY_LEN);
		dev->has_private_key = true;
	}
	if (tb[WGDEVICE_A_LISTEN_PORT] &&
	    mnl_attr_validate(tb[WGDEVICE_A_LISTEN_PORT], MNL_TYPE_U16) == 0)
		dev->listen_port = mnl_attr_get_u16(tb[WGDEVICE_A_LISTEN_PORT]);
	if (tb[WGDEVICE_A_FWMARK] && mnl_attr_validate(tb[WGDEVICE_A_FWMARK], MNL_TYPE_U32) == 0) {
		dev->fwmark = mnl_attr_get_u32(tb[WGDEVICE_A_FWMARK]);
		dev->has_fwmark = true;
	}
	if (tb[WGDEVICE_A_PEERS]) {
		const struct nlattr *p;
		mnl_attr_for_each_nested(p, tb[WGDEVICE_A_PEERS])
		{
			if (parse_peer(p, dev) < 0)
				return mg_err_set(e, "malformed WireGuard peer attribute");
		}
	}
	return 0;
}

/* ---- backend ops ---- */

static int kernel_create(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	(void)ctx;
	struct rtnl r;
	if (rtnl_open(&r, e) < 0)
		return -1;
	int ret = rtnl_link_create(&r, ifname, "wireguard", e);
	rtnl_close(&r);
	return ret;
}

static int kernel_destroy(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	(void)ctx;
	struct rtnl r;
	uint32_t idx;
	if (rtnl_open(&r, e) < 0)
		return -1;
	int ret = rtnl_link_index(&r, ifname, &idx, e);
	if (ret == 0)
		ret = rtnl_link_delete(&r, idx, e);
	else if (ret == RTNL_ENODEV)
		ret = 0; /* already gone */
	rtnl_close(&r);
	return ret;
}

static int kernel_set_device(struct wg_ctx *ctx, const struct wg_device *dev, mg_err *e)
{
	if (wg_kernel_family(ctx, e) < 0)
		return mg_err_prefix(e, "configure WireGuard %s", dev->ifname);
	struct genl *g = malloc(sizeof(*g));
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!g || !buf) {
		free(g);
		free(buf);
		return mg_err_set(e, "out of memory");
	}
	int ret = genl_open(g, e);
	if (ret == 0) {
		struct wg_nl_cursor cur = {0};
		size_t part = 0;
		while (!cur.done) {
			struct nlmsghdr *nlh = wg_nl_build_set(buf, MNL_SOCKET_BUFFER_SIZE,
							       (uint16_t)*wg_ctx_genl_family(ctx),
							       nl_seq(&g->s), dev, &cur, e);
			if (!nlh) {
				ret = -1;
				break;
			}
			part++;
			char xa[NL_EXTACK_LEN];
			if (genl_talk(g, nlh, NULL, NULL, xa, sizeof(xa)) < 0) {
				ret = mg_err_set(e, "configure WireGuard %s (message %zu): %s%s",
						 dev->ifname, part, strerror(errno), xa);
				break;
			}
		}
		if (ret == 0) {
			size_t n_ips = 0;
			for (size_t i = 0; i < dev->n_peers; i++)
				n_ips += dev->peers[i].n_allowed_ips;
			log_debug("WireGuard %s: %zu peer(s), %zu allowed IP(s) set in %zu netlink "
				  "message(s)",
				  dev->ifname, dev->n_peers, n_ips, part);
		}
		genl_close(g);
	}
	wgkey_wipe(buf, MNL_SOCKET_BUFFER_SIZE);
	free(buf);
	free(g);
	return ret;
}

struct get_ctx {
	struct wg_device *dev;
	mg_err *e;
};

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_ctx *c = data;
	return wg_nl_parse_get(nlh, c->dev, c->e) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int kernel_get_device(struct wg_ctx *ctx, const char *ifname, struct wg_device *dev,
			     mg_err *e)
{
	memset(dev, 0, sizeof(*dev));
	if (wg_kernel_family(ctx, e) < 0)
		return mg_err_prefix(e, "read WireGuard %s", ifname);
	struct genl *g = malloc(sizeof(*g));
	if (!g)
		return mg_err_set(e, "out of memory");
	if (genl_open(g, e) < 0) {
		free(g);
		return -1;
	}
	int ret = -1;
	mg_err le = {{0}};
	for (int attempt = 0; attempt < 4; attempt++) {
		char req[128];
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
		nlh->nlmsg_type = (uint16_t)*wg_ctx_genl_family(ctx);
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
		nlh->nlmsg_seq = nl_seq(&g->s);
		struct genlmsghdr *gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
		gh->cmd = WG_CMD_GET_DEVICE;
		gh->version = WG_GENL_VERSION;
		mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
		struct get_ctx c = {dev, &le};
		char xa[NL_EXTACK_LEN];
		mg_err_clear(&le);
		if (genl_talk(g, nlh, get_cb, &c, xa, sizeof(xa)) == 0) {
			ret = 0;
			break;
		}
		int err = errno;
		wg_device_free(dev);
		if (err == EINTR) { /* NLM_F_DUMP_INTR: the device changed during the dump */
			mg_err_set(&le, "dump kept being interrupted");
			continue;
		}
		if (!le.msg[0])
			mg_err_set(&le, "%s%s", strerror(err), xa);
		break;
	}
	if (ret < 0)
		mg_err_set(e, "read WireGuard %s: %s", ifname, le.msg);
	genl_close(g);
	free(g);
	return ret;
}

/* An existing link is ours to drive when the kernel has the WireGuard family. */
static int kernel_probe(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	(void)ifname;
	return wg_kernel_family(ctx, e);
}

const struct wg_backend_ops wg_kernel_ops = {
    .name = "kernel",
    .probe = kernel_probe,
    .create = kernel_create,
    .destroy = kernel_destroy,
    .set_device = kernel_set_device,
    .get_device = kernel_get_device,
};
