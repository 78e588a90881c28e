/* SPDX-License-Identifier: MIT */
/*
 * meshgate's own nftables table, `inet meshgate`, written with libnftnl in one atomic
 * batch: NAT with destination exclusions (interval sets), mesh -> LAN access control
 * (longest prefix wins; per-entry port sets, never one rule per port), the same list
 * for mesh traffic to the host itself, and TCP MSS clamping on the tunnel. Policies
 * are accept everywhere: meshgate only ever drops traffic that came in by its tunnel.
 * Other tables are only read (coexistence scan), except for the opt-in accepts in
 * DOCKER-USER / ufw-user-forward, marked with the comment "meshgate".
 */
#ifndef MG_NFT_H
#define MG_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "config.h"
#include "err.h"

#define NFT_TABLE_NAME   "meshgate"
#define NFT_RULE_COMMENT "meshgate"
#define NFT_MAX_WARNINGS 8
#define NFT_WARN_LEN     400

struct nft_spec {
	char tun_if[16];
	bool nat;                   /* masquerade tunnel -> non-tunnel traffic ... */
	const struct cidr *exclude; /* ... except to these destinations */
	size_t n_exclude;
	bool egress; /* this LAN is the mesh's internet exit: mesh traffic to anything but
			`lan` (and `exclude`) is masqueraded, and what the access list does not
			name is reachable */
	const struct cidr *lan; /* with egress and without nat: this network's own subnets,
				   reached with the mesh source address as without egress */
	size_t n_lan;
	const struct access_rule *access;
	size_t n_access;
	bool mss_clamp;
	bool open_docker_user; /* opt-in: accept tunnel traffic in ip filter DOCKER-USER */
	bool open_ufw;         /* opt-in: the same in ip filter ufw-user-forward */
};

struct nft_ctx;

int nft_open(struct nft_ctx **out, mg_err *e);
void nft_close(struct nft_ctx *c);

enum nft_apply_flags {
	NFT_APPLY_TEST_REJECT = 1 << 0, /* tests only: append a rule the kernel refuses */
};

/* Replace the whole table in one batch; a refused batch changes nothing. */
int nft_apply(struct nft_ctx *c, const struct nft_spec *s, unsigned flags, mg_err *e);
/* Delete our table and our opt-in rules elsewhere. Idempotent. */
int nft_remove(struct nft_ctx *c, mg_err *e);
/* Is our table there? 1 yes, 0 no, -1 error. */
int nft_table_present(struct nft_ctx *c, mg_err *e);

/* The counters of our rules (nft_counters.c); all 0 and present false without a table. */
struct nft_counters {
	bool present;
	uint64_t nat_packets, nat_bytes;
	uint64_t drop_packets[2], drop_bytes[2]; /* [0] forward, [1] input (to the host) */
};
int nft_counters_read(struct nft_ctx *c, struct nft_counters *out, mg_err *e);

/* Read-only scan for what will still drop mesh traffic; one line each, with the fix. */
int nft_coexist_scan(struct nft_ctx *c, const char *tun_if, char warnings[][NFT_WARN_LEN], int max,
		     mg_err *e);

/*
 * The doctor's firewall scan, read-only: in every other table, the base chains on the
 * forward and postrouting hooks (ip, ip6, inet) and the chains they jump or go to, each
 * drop policy and each rule whose verdict is drop or reject. A rule matching only on
 * conntrack state (`ct state invalid drop`) is left out. `tun_accepted`: the chain's
 * path accepts packets in on `tun` before (our opt-in rules, or the admin's own).
 */
enum nft_fw_kind { NFT_FW_POLICY_DROP, NFT_FW_RULE_DROP, NFT_FW_RULE_REJECT };
struct nft_fw_hit {
	enum nft_fw_kind kind;
	uint32_t family, hook;
	char table[64], chain[64], base[64]; /* chain holding it, the base chain reaching it */
	uint64_t handle;                     /* of the rule (0 for a policy) */
	char iif[20], oif[20];               /* its interface match ("" none; "eth*" prefix) */
	bool matches;                        /* the rule has other matches besides interfaces */
	bool tun_accepted;
	const char *owner; /* "docker", "ufw", "firewalld" or "" */
};
int nft_fw_scan(struct nft_ctx *c, const char *tun, struct nft_fw_hit *out, size_t max, size_t *n,
		mg_err *e);
/* Our table's TCP MSS clamp rule: 1 present, 0 not (or no table), -1 error. */
int nft_mss_clamp_present(struct nft_ctx *c, mg_err *e);

/* Change notifications (NFNLGRP_NFTABLES) for the daemon's loop. */
int nft_mon_open(struct nft_ctx *c, mg_err *e);
int nft_mon_fd(const struct nft_ctx *c);
/* Drain events; *touched when another process changed or deleted our table. */
int nft_mon_read(struct nft_ctx *c, bool *touched, mg_err *e);

/* ---- exposed for unit tests ---- */

/* An inclusive address range in network byte order. */
struct nft_range {
	uint8_t family;
	uint8_t lo[16], hi[16];
	int tag; /* which access entry decided it (-1: none) */
};

/* Prefixes of one family -> sorted ranges with overlaps and neighbours merged. */
size_t nft_merge_prefixes(const struct cidr *v, size_t n, uint8_t family, struct nft_range *out);
/*
 * Longest prefix wins: split the access entries of `family` into disjoint ranges, each
 * tagged with the index of the most specific entry covering it; neighbours with the
 * same tag merged. `out` needs room for 2 * n + 1 ranges. Returns the count.
 */
size_t nft_access_split(const struct access_rule *acc, size_t n, uint8_t family,
			struct nft_range *out);

#endif
