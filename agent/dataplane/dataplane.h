/* SPDX-License-Identifier: MIT */
/*
 * The host side of a config: the WireGuard tunnel (kernel or userspace backend), its
 * address, MTU and link state, the routes on it (tagged with meshgate's rtm_protocol),
 * and the router sysctls. dp_apply is idempotent: it is also how drift is repaired.
 */
#ifndef MG_DATAPLANE_H
#define MG_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "config.h"
#include "err.h"
#include "nft.h"
#include "sysctl.h"
#include "wg.h"
#include "wgkey.h"

#define DP_IFNAME_DEFAULT "mg0"
#define DP_MAX_LAN_IFS    8

struct dp_opts {
	char ifname[16];
	enum wg_mode wg_mode;             /* --wg-mode, parsed by wg_mode_parse */
	char wg_bin[256];                 /* userspace implementation, "wireguard-go" */
	char lan_ifs[DP_MAX_LAN_IFS][16]; /* empty: detected from routes */
	size_t n_lan_ifs;
	struct sysctl_ctx sysctl;
	bool no_mss_clamp;     /* MSS clamping is on unless this is set */
	bool open_docker_user; /* opt-in accepts in ip filter DOCKER-USER */
	bool open_ufw;         /* ... and in ip filter ufw-user-forward */
};

struct dp_stats {
	bool up;
	const char *backend;    /* "kernel" or "userspace" */
	int64_t last_handshake; /* unix seconds, 0 = never */
	uint64_t rx_bytes, tx_bytes;
	size_t routes;
	/* firewall (nftables table inet meshgate) */
	bool fw_present;
	bool nat;
	size_t exclusions;
	char access[512]; /* "192.0.2.0/24=full 10.0.64.0/24=ports" */
	int n_warnings;
	const char (*warnings)[NFT_WARN_LEN];
};

struct dataplane;

int dp_open(struct dataplane **dp, const struct dp_opts *o, mg_err *e);
void dp_close(struct dataplane *dp);

/*
 * Make the host match `cfg`: tunnel present (adopted if it already exists, so a restart
 * never resets it), key and hub peer set without dropping the session when unchanged,
 * address/MTU/up, routes diffed (only changes touched), sysctls. Returns 0 or -1.
 * *changes counts what had to be created or corrected (0 in steady state).
 */
int dp_apply(struct dataplane *dp, const struct mg_config *cfg, const uint8_t priv[WG_KEY_LEN],
	     int *changes, mg_err *e);

/* Non-blocking netlink fds for link/route events (0) and nftables changes (1), or -1. */
int dp_event_fd(struct dataplane *dp, int which);
/* Drain pending events; *drift set when our tunnel or routes were touched. */
int dp_event_read(struct dataplane *dp, bool *drift, mg_err *e);

/* Periodic check of sysctls (forwarding turned off...). *changed counts repairs. */
int dp_check_sysctls(struct dataplane *dp, int *changed, mg_err *e);
/* Look again for other firewalls that will drop mesh traffic (warnings in dp_stats). */
void dp_firewall_scan(struct dataplane *dp);
/* Periodic safety net besides the events: is our firewall table still there? */
bool dp_firewall_missing(struct dataplane *dp);

int dp_stats(struct dataplane *dp, struct dp_stats *s);
/* Our firewall rules' counters (NAT, access-policy drops), for the metrics. */
int dp_fw_counters(struct dataplane *dp, struct nft_counters *out, mg_err *e);

/* Subnets directly connected to this host outside the tunnel (for safety checks). */
int dp_lan_subnets(struct dataplane *dp, struct cidr **out, size_t *n, mg_err *e);

/* Remove the tunnel, every route of ours and our firewall table. Idempotent. */
int dp_teardown(struct dataplane *dp, mg_err *e);

/* Reap a userspace WireGuard child that exited; true if it was ours. */
bool dp_reap_child(struct dataplane *dp, int pid);

#endif
