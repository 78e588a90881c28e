/* SPDX-License-Identifier: MIT */
/*
 * The kernel WireGuard backend (generic netlink family "wireguard"): its ops, and its
 * message builder and parser (exposed for the unit tests).
 */
#ifndef MG_WG_KERNEL_H
#define MG_WG_KERNEL_H

#include <linux/netlink.h>

#include "wg_backend.h"

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

extern const struct wg_backend_ops wg_kernel_ops;

/* Build WG_CMD_SET_DEVICE messages one at a time. */
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
