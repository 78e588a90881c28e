/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/wg*.c: what a WireGuard backend is (a table of functions that
 * lib/wg.c dispatches to) and the services lib/wg.c and lib/wg_device.c give every
 * backend. A backend includes this and its own header, never another backend's.
 */
#ifndef MG_WG_BACKEND_H
#define MG_WG_BACKEND_H

#include "wg.h"

struct wg_backend_ops {
	const char *name; /* "kernel" or "userspace" */
	/* Does the existing link ifname belong to this backend? 0 yes, -1 with e (errno). */
	int (*probe)(struct wg_ctx *ctx, const char *ifname, mg_err *e);
	/* 0; -1 with e; RTNL_ENOTSUPP when this backend is not available on the host. */
	int (*create)(struct wg_ctx *ctx, const char *ifname, mg_err *e);
	int (*destroy)(struct wg_ctx *ctx, const char *ifname, mg_err *e);
	int (*set_device)(struct wg_ctx *ctx, const struct wg_device *dev, mg_err *e);
	/* Fills dev (free with wg_device_free). */
	int (*get_device)(struct wg_ctx *ctx, const char *ifname, struct wg_device *dev, mg_err *e);
};

/* ---- the context, for backends (lib/wg.c) ---- */
const char *wg_ctx_userspace_bin(const struct wg_ctx *ctx);
const char *wg_ctx_sock_dir(const struct wg_ctx *ctx);
/* Backend state kept per context: the kernel's resolved genl family id (0: not yet),
 * the pid of the userspace daemon we started (0: none, or adopted). */
int *wg_ctx_genl_family(struct wg_ctx *ctx);
pid_t *wg_ctx_child_pid(struct wg_ctx *ctx);

/* ---- device memory (lib/wg_device.c) ---- */
/* Append a peer slot / an allowed IP; NULL / -1 when out of memory. */
struct wg_peer *wg_device_add_peer(struct wg_device *dev);
int wg_peer_add_allowed_ip(struct wg_peer *peer, const struct cidr *c);

#endif
