/* SPDX-License-Identifier: MIT */
/*
 * WireGuard control behind one interface, two backends:
 *  - kernel: generic netlink family "wireguard" (links made with rtnetlink);
 *  - userspace: the UAPI text protocol on <sock_dir>/<ifname>.sock, served by
 *    wireguard-go (started by us, or adopted after a restart).
 * Key material is wiped after use and never logged.
 */
#ifndef MG_WG_H
#define MG_WG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cidr.h"
#include "err.h"
#include "wgkey.h"

#define WG_DEFAULT_SOCK_DIR      "/var/run/wireguard"
#define WG_DEFAULT_USERSPACE_BIN "wireguard-go"

struct wg_peer {
	uint8_t public_key[WG_KEY_LEN];
	struct sockaddr_storage endpoint; /* sockaddr_in or sockaddr_in6 */
	bool has_endpoint;
	uint16_t persistent_keepalive; /* seconds, 0 = off */
	struct cidr *allowed_ips;
	size_t n_allowed_ips;
	bool remove;              /* set: remove this peer */
	bool replace_allowed_ips; /* set: replace rather than add to its allowed IPs */
	/* read back by get_device */
	int64_t last_handshake_sec;
	int64_t last_handshake_nsec;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
};

struct wg_device {
	char ifname[IF_NAMESIZE];
	uint8_t private_key[WG_KEY_LEN];
	bool has_private_key;
	uint16_t listen_port; /* set: 0 = leave unchanged */
	uint32_t fwmark;
	bool has_fwmark;    /* set: send fwmark (0 clears it) */
	bool replace_peers; /* set: the peer list replaces every existing peer */
	struct wg_peer *peers;
	size_t n_peers;
};

/* Free peers and their allowed IPs, wipe the private key, zero the struct. */
void wg_device_free(struct wg_device *dev);
void wg_peer_free(struct wg_peer *peer);

enum wg_mode { WG_MODE_AUTO = 0, WG_MODE_KERNEL, WG_MODE_USERSPACE };
const char *wg_mode_name(enum wg_mode mode);
int wg_mode_parse(const char *s, enum wg_mode *mode);

/* The WireGuard control context: which backend serves the interface, its daemon. */
struct wg_ctx;

/* NULL when out of memory. Freeing leaves the interface and any daemon as they are. */
struct wg_ctx *wg_ctx_new(enum wg_mode mode);
void wg_ctx_free(struct wg_ctx *ctx);
/* The userspace implementation (default "wireguard-go", looked up in PATH) and the
 * directory of its sockets (default /var/run/wireguard). -1 when too long. */
int wg_ctx_set_userspace_bin(struct wg_ctx *ctx, const char *bin);
int wg_ctx_set_sock_dir(struct wg_ctx *ctx, const char *dir);
/* "kernel" or "userspace" once attached, else NULL. */
const char *wg_backend_name(const struct wg_ctx *ctx);
/* The last wg_attach created the interface (rather than adopting it). */
bool wg_created(const struct wg_ctx *ctx);
/* The userspace daemon this context started (0: none, or adopted). */
pid_t wg_child_pid(const struct wg_ctx *ctx);
/* pid (an exited child) was the userspace daemon we started: forget it, true. */
bool wg_reap_child(struct wg_ctx *ctx, pid_t pid);
/* Pick the backend of an existing interface the way wg(8) does, creating nothing. */
void wg_select_existing(struct wg_ctx *ctx, const char *ifname);

/*
 * Choose the backend for ifname and make sure the interface exists:
 *  1. <sock_dir>/<ifname>.sock exists and is a socket: userspace, adopt it
 *     (error in forced kernel mode);
 *  2. a link named ifname exists: kernel (adopt; error in forced userspace mode);
 *  3. otherwise create it: kernel link; in auto mode, EOPNOTSUPP (no module)
 *     falls back to starting the userspace daemon.
 */
int wg_attach(struct wg_ctx *ctx, const char *ifname, mg_err *e);
int wg_set_device(struct wg_ctx *ctx, const struct wg_device *dev, mg_err *e);
int wg_get_device(struct wg_ctx *ctx, const char *ifname, struct wg_device *dev, mg_err *e);
/* Remove the interface (and stop the daemon we started, if any). */
int wg_destroy(struct wg_ctx *ctx, const char *ifname, mg_err *e);
/* Path of the UAPI socket; false if it does not fit. */
bool wg_uapi_sock_path(const struct wg_ctx *ctx, const char *ifname, char *out, size_t outlen);
bool wg_uapi_sock_exists(const struct wg_ctx *ctx, const char *ifname);
/* NONE: no socket; LIVE: a daemon accepts (or might); DEAD: connect() is refused. */
enum wg_sock_state { WG_SOCK_NONE, WG_SOCK_LIVE, WG_SOCK_DEAD };
enum wg_sock_state wg_uapi_sock_state(const struct wg_ctx *ctx, const char *ifname);
/*
 * Remove <sock_dir>/<ifname>.sock when nobody answers on it (its daemon was killed):
 * 1 removed, 0 nothing to remove (absent or alive), -1 with e set.
 */
int wg_uapi_reap_stale(const struct wg_ctx *ctx, const char *ifname, mg_err *e);
/* The interface is served by a userspace daemon that no longer answers (or is gone). */
bool wg_userspace_dead(const struct wg_ctx *ctx, const char *ifname);

#endif
