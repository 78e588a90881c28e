/* SPDX-License-Identifier: MIT */
/* Private to lib/wg*.c: the WireGuard generic netlink constants and shared helpers. */
#ifndef MG_WG_PRIV_H
#define MG_WG_PRIV_H

#include "wg.h"

#if __has_include(<linux/wireguard.h>)
#include <linux/wireguard.h>
#else
/* The kernel's UAPI (include/uapi/linux/wireguard.h), for systems without the header. */
#define WG_GENL_NAME      "wireguard"
#define WG_GENL_VERSION   1
enum wg_cmd { WG_CMD_GET_DEVICE, WG_CMD_SET_DEVICE };
enum wgdevice_flag { WGDEVICE_F_REPLACE_PEERS = 1U << 0 };
enum wgdevice_attribute {
	WGDEVICE_A_UNSPEC,
	WGDEVICE_A_IFINDEX,
	WGDEVICE_A_IFNAME,
	WGDEVICE_A_PRIVATE_KEY,
	WGDEVICE_A_PUBLIC_KEY,
	WGDEVICE_A_FLAGS,
	WGDEVICE_A_LISTEN_PORT,
	WGDEVICE_A_FWMARK,
	WGDEVICE_A_PEERS,
	__WGDEVICE_A_LAST
};
#define WGDEVICE_A_MAX    (__WGDEVICE_A_LAST - 1)
enum wgpeer_flag {
	WGPEER_F_REMOVE_ME = 1U << 0,
	WGPEER_F_REPLACE_ALLOWEDIPS = 1U << 1,
	WGPEER_F_UPDATE_ONLY = 1U << 2,
};
enum wgpeer_attribute {
	WGPEER_A_UNSPEC,
	WGPEER_A_PUBLIC_KEY,
	WGPEER_A_PRESHARED_KEY,
	WGPEER_A_FLAGS,
	WGPEER_A_ENDPOINT,
	WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
	WGPEER_A_LAST_HANDSHAKE_TIME,
	WGPEER_A_RX_BYTES,
	WGPEER_A_TX_BYTES,
	WGPEER_A_ALLOWEDIPS,
	WGPEER_A_PROTOCOL_VERSION,
	__WGPEER_A_LAST
};
#define WGPEER_A_MAX      (__WGPEER_A_LAST - 1)
enum wgallowedip_attribute {
	WGALLOWEDIP_A_UNSPEC,
	WGALLOWEDIP_A_FAMILY,
	WGALLOWEDIP_A_IPADDR,
	WGALLOWEDIP_A_CIDR_MASK,
	__WGALLOWEDIP_A_LAST
};
#define WGALLOWEDIP_A_MAX (__WGALLOWEDIP_A_LAST - 1)
#endif

/* Resolve (and cache in ctx) the "wireguard" genl family: 0, or -1 (errno ENOENT: no module). */
int wg_kernel_family(struct wg_ctx *ctx, mg_err *e);

/* Append a peer slot / an allowed IP; NULL when out of memory. */
struct wg_peer *wg_device_add_peer(struct wg_device *dev);
int wg_peer_add_allowed_ip(struct wg_peer *peer, const struct cidr *c);

#endif
