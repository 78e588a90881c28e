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

struct wg_ctx;

struct wg_backend_ops {
	const char *name; /* "kernel" or "userspace" */
	int (*create)(struct wg_ctx *ctx, const char *ifname, mg_err *e);
	int (*destroy)(struct wg_ctx *ctx, const char *ifname, mg_err *e);
	int (*set_device)(struct wg_ctx *ctx, const struct wg_device *dev, mg_err *e);
	/* Fills dev (free with wg_device_free). */
	int (*get_device)(struct wg_ctx *ctx, const char *ifname, struct wg_device *dev, mg_err *e);
};

extern const struct wg_backend_ops wg_kernel_ops;
extern const struct wg_backend_ops wg_uapi_ops;

struct wg_ctx {
	enum wg_mode mode;
	char userspace_bin[256];          /* default "wireguard-go"; looked up in PATH */
	char sock_dir[108];               /* default /var/run/wireguard */
	const struct wg_backend_ops *ops; /* chosen by wg_attach */
	pid_t child_pid;                  /* userspace daemon we started (0: none / adopted) */
	int genl_family;                  /* kernel: resolved family id, 0 = not yet */
	bool created;                     /* wg_attach created the interface (vs adopted it) */
};

void wg_ctx_init(struct wg_ctx *ctx, enum wg_mode mode);

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

/* ---- exposed for unit tests ---- */

/* UAPI "set=1" request text (ends with an empty line). *out is malloc'ed; wipe+free it
 * with wg_text_free. */
int wg_uapi_set_text(const struct wg_device *dev, char **out, size_t *len, mg_err *e);
void wg_text_free(char *text, size_t len);
/* Parse a "get=1" reply (device keys, peer blocks, errno=N, empty line). */
int wg_uapi_parse_get(const char *text, size_t len, struct wg_device *dev, mg_err *e);

/* Kernel: build WG_CMD_SET_DEVICE messages one at a time. */
struct wg_nl_cursor {
	size_t peer;  /* next peer */
	size_t aip;   /* next allowed IP of that peer */
	bool started; /* first message emitted (device attrs go in the first only) */
	bool done;
};
/*
 * Build the next message into buf (bufsize bytes) for genl family `family`.
 * Returns the message, or NULL with e set if a single peer header cannot fit.
 * cur->done becomes true after the last message.
 */
struct nlmsghdr *wg_nl_build_set(void *buf, size_t bufsize, uint16_t family, uint32_t seq,
                                 const struct wg_device *dev, struct wg_nl_cursor *cur, mg_err *e);
/* Merge one WG_CMD_GET_DEVICE reply message into dev (peers continue across messages). */
int wg_nl_parse_get(const struct nlmsghdr *nlh, struct wg_device *dev, mg_err *e);

#endif
