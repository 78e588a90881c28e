/* SPDX-License-Identifier: MIT */
/* Backend-independent WireGuard control: the context, backend selection, dispatch. */
#include "wg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "rtnl.h"
#include "wg_backend.h"
#include "wg_kernel.h"
#include "wg_uapi.h"

struct wg_ctx {
	enum wg_mode mode;
	char userspace_bin[256];
	char sock_dir[108];
	const struct wg_backend_ops *ops; /* chosen by wg_attach */
	pid_t child_pid;                  /* userspace daemon we started (0: none / adopted) */
	int genl_family;                  /* kernel: resolved family id, 0 = not yet */
	bool created;                     /* wg_attach created the interface (vs adopted it) */
};

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

struct wg_ctx *wg_ctx_new(enum wg_mode mode)
{
	struct wg_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->mode = mode;
	snprintf(ctx->userspace_bin, sizeof(ctx->userspace_bin), "%s", WG_DEFAULT_USERSPACE_BIN);
	snprintf(ctx->sock_dir, sizeof(ctx->sock_dir), "%s", WG_DEFAULT_SOCK_DIR);
	return ctx;
}

void wg_ctx_free(struct wg_ctx *ctx)
{
	free(ctx);
}

static int set_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (!n || n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

int wg_ctx_set_userspace_bin(struct wg_ctx *ctx, const char *bin)
{
	return set_str(ctx->userspace_bin, sizeof(ctx->userspace_bin), bin);
}

int wg_ctx_set_sock_dir(struct wg_ctx *ctx, const char *dir)
{
	return set_str(ctx->sock_dir, sizeof(ctx->sock_dir), dir);
}

const char *wg_ctx_sock_dir(const struct wg_ctx *ctx)
{
	return ctx->sock_dir;
}

const char *wg_ctx_userspace_bin(const struct wg_ctx *ctx)
{
	return ctx->userspace_bin;
}

int *wg_ctx_genl_family(struct wg_ctx *ctx)
{
	return &ctx->genl_family;
}

pid_t *wg_ctx_child_pid(struct wg_ctx *ctx)
{
	return &ctx->child_pid;
}

const char *wg_backend_name(const struct wg_ctx *ctx)
{
	return ctx->ops ? ctx->ops->name : NULL;
}

bool wg_created(const struct wg_ctx *ctx)
{
	return ctx->created;
}

pid_t wg_child_pid(const struct wg_ctx *ctx)
{
	return ctx->child_pid;
}

bool wg_reap_child(struct wg_ctx *ctx, pid_t pid)
{
	if (!ctx->child_pid || ctx->child_pid != pid)
		return false;
	ctx->child_pid = 0;
	return true;
}

void wg_select_existing(struct wg_ctx *ctx, const char *ifname)
{
	ctx->ops = wg_uapi_sock_exists(ctx, ifname) ? &wg_uapi_ops : &wg_kernel_ops;
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
		if (wg_kernel_ops.probe(ctx, ifname, e) < 0)
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
	if (!ctx->ops)
		wg_select_existing(ctx, ifname); /* not attached: create nothing */
	int ret = ctx->ops->destroy(ctx, ifname, e);
	ctx->ops = NULL;
	return ret;
}
