/* SPDX-License-Identifier: MIT */
/* Backend-independent WireGuard control: selection, dispatch, memory. */
#include "wg_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "rtnl.h"

void wg_peer_free(struct wg_peer *peer)
{
	free(peer->allowed_ips);
	memset(peer, 0, sizeof(*peer));
}

void wg_device_free(struct wg_device *dev)
{
	for (size_t i = 0; i < dev->n_peers; i++)
		wg_peer_free(&dev->peers[i]);
	free(dev->peers);
	wgkey_wipe(dev->private_key, sizeof(dev->private_key));
	memset(dev, 0, sizeof(*dev));
}

/* Arrays grow to 4, 8, 16, ...: capacity is implied by the count. */
static bool needs_growth(size_t n)
{
	return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

struct wg_peer *wg_device_add_peer(struct wg_device *dev)
{
	size_t n = dev->n_peers;
	if (needs_growth(n)) {
		size_t cap = n ? n * 2 : 4;
		struct wg_peer *p = realloc(dev->peers, cap * sizeof(*p));
		if (!p)
			return NULL;
		dev->peers = p;
	}
	struct wg_peer *peer = &dev->peers[dev->n_peers++];
	memset(peer, 0, sizeof(*peer));
	return peer;
}

int wg_peer_add_allowed_ip(struct wg_peer *peer, const struct cidr *c)
{
	size_t n = peer->n_allowed_ips;
	if (needs_growth(n)) {
		size_t cap = n ? n * 2 : 4;
		struct cidr *p = realloc(peer->allowed_ips, cap * sizeof(*p));
		if (!p)
			return -1;
		peer->allowed_ips = p;
	}
	peer->allowed_ips[peer->n_allowed_ips++] = *c;
	return 0;
}

const char *wg_mode_name(enum wg_mode mode)
{
	switch (mode) {
	case WG_MODE_KERNEL:
		return "kernel";
	case WG_MODE_USERSPACE:
		return "userspace";
	default:
		return "auto";
	}
}

int wg_mode_parse(const char *s, enum wg_mode *mode)
{
	if (!strcmp(s, "auto"))
		*mode = WG_MODE_AUTO;
	else if (!strcmp(s, "kernel"))
		*mode = WG_MODE_KERNEL;
	else if (!strcmp(s, "userspace"))
		*mode = WG_MODE_USERSPACE;
	else
		return -1;
	return 0;
}

void wg_ctx_init(struct wg_ctx *ctx, enum wg_mode mode)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->mode = mode;
	snprintf(ctx->userspace_bin, sizeof(ctx->userspace_bin), "%s", WG_DEFAULT_USERSPACE_BIN);
	snprintf(ctx->sock_dir, sizeof(ctx->sock_dir), "%s", WG_DEFAULT_SOCK_DIR);
}

bool wg_uapi_sock_path(const struct wg_ctx *ctx, const char *ifname, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s.sock", ctx->sock_dir, ifname);
	return n > 0 && (size_t)n < outlen;
}

bool wg_uapi_sock_exists(const struct wg_ctx *ctx, const char *ifname)
{
	char path[128];
	struct stat st;
	if (!wg_uapi_sock_path(ctx, ifname, path, sizeof(path)))
		return false;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int link_exists(const char *ifname, bool *exists, mg_err *e)
{
	struct rtnl r;
	uint32_t idx;
	if (rtnl_open(&r, e) < 0)
		return -1;
	int ret = rtnl_link_index(&r, ifname, &idx, e);
	rtnl_close(&r);
	if (ret == -1)
		return -1;
	*exists = ret == 0;
	return 0;
}

int wg_attach(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	char path[128];
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
		return mg_err_set(e, "invalid WireGuard interface name \"%s\"",
		                  ifname ? ifname : "");
	if (!wg_uapi_sock_path(ctx, ifname, path, sizeof(path)))
		return mg_err_set(e, "WireGuard socket path for %s is too long", ifname);
	ctx->created = false;
	/* a socket left by a killed daemon is not adopted: it would serve nothing */
	if (wg_uapi_reap_stale(ctx, ifname, e) < 0)
		return -1;
	if (wg_uapi_sock_exists(ctx, ifname)) {
		if (ctx->mode == WG_MODE_KERNEL)
			return mg_err_set(e,
			                  "%s is served by a userspace daemon (%s) but the "
			                  "WireGuard mode is kernel",
			                  ifname, path);
		ctx->ops = &wg_uapi_ops;
		log_info("wireguard: adopting userspace interface %s (%s)", ifname, path);
		return 0;
	}
	bool exists;
	if (link_exists(ifname, &exists, e) < 0)
		return -1;
	if (exists) {
		if (ctx->mode == WG_MODE_USERSPACE)
			return mg_err_set(e,
			                  "link %s exists but has no WireGuard socket %s; delete "
			                  "it or choose another interface name",
			                  ifname, path);
		if (wg_kernel_family(ctx, e) < 0)
			return mg_err_prefix(e,
			                     "link %s exists but is not a kernel WireGuard "
			                     "interface and has no socket %s",
			                     ifname, path);
		ctx->ops = &wg_kernel_ops;
		log_info("wireguard: adopting kernel interface %s", ifname);
		return 0;
	}
	if (ctx->mode != WG_MODE_USERSPACE) {
		int ret = wg_kernel_ops.create(ctx, ifname, e);
		if (ret == 0) {
			ctx->ops = &wg_kernel_ops;
			ctx->created = true;
			log_info("wireguard: created kernel interface %s", ifname);
			return 0;
		}
		if (ret != RTNL_ENOTSUPP || ctx->mode == WG_MODE_KERNEL)
			return -1;
		log_info("wireguard: no kernel WireGuard module; starting userspace %s for %s",
		         ctx->userspace_bin, ifname);
	}
	if (wg_uapi_ops.create(ctx, ifname, e) < 0)
		return -1;
	ctx->ops = &wg_uapi_ops;
	ctx->created = true;
	return 0;
}

bool wg_userspace_dead(const struct wg_ctx *ctx, const char *ifname)
{
	return ctx->ops == &wg_uapi_ops && wg_uapi_sock_state(ctx, ifname) != WG_SOCK_LIVE;
}

static int need_ops(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	if (ctx->ops)
		return 0;
	return wg_attach(ctx, ifname, e);
}

int wg_set_device(struct wg_ctx *ctx, const struct wg_device *dev, mg_err *e)
{
	if (need_ops(ctx, dev->ifname, e) < 0)
		return -1;
	return ctx->ops->set_device(ctx, dev, e);
}

int wg_get_device(struct wg_ctx *ctx, const char *ifname, struct wg_device *dev, mg_err *e)
{
	if (need_ops(ctx, ifname, e) < 0)
		return -1;
	return ctx->ops->get_device(ctx, ifname, dev, e);
}

int wg_destroy(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	if (!ctx->ops) {
		/* not attached: pick the backend the way wg(8) does, without creating */
		ctx->ops = wg_uapi_sock_exists(ctx, ifname) ? &wg_uapi_ops : &wg_kernel_ops;
	}
	int ret = ctx->ops->destroy(ctx, ifname, e);
	ctx->ops = NULL;
	return ret;
}
