/* SPDX-License-Identifier: MIT */
/*
 * Private to agent/dataplane/nft*.c (nft.h is the one public interface): the context, the batch
 * under construction, the chain list of a dump, and what each file gives the others.
 *   nft.c        open, close, remove
 *   nft_ranges.c address and port ranges (merge, longest-prefix split), interval sets
 *   nft_batch.c  batch building (messages, expressions, rules, chains, tables), sending
 *   nft_excl.c   the NAT exclusions' sets (hash sets by prefix length, an interval set)
 *   nft_rules.c  our ruleset (NAT, access control, MSS clamping) and nft_apply
 *   nft_scan.c   reading chains: coexistence scan, foreign opt-in rules, the monitor
 */
#ifndef MG_NFT_PRIV_H
#define MG_NFT_PRIV_H

#include <sys/uio.h> /* before libnftnl: its prototypes use struct iovec */

#include <libnftnl/batch.h>
#include <libnftnl/rule.h>
#include <linux/netlink.h>

#include "nft.h"
#include "nl.h"

/* nft's datatype numbers (src/datatype.h), for set keys */
#define DT_IPV4_ADDR    7
#define DT_IPV6_ADDR    8
#define DT_INET_SERVICE 13
#define BYTEORDER_BIG   2

struct nft_ctx {
	struct nl_sock s;       /* requests and batches (lib/nl.h) */
	struct mnl_socket *mon; /* NFNLGRP_NFTABLES notifications */
};

struct nft_build {
	struct nft_ctx *c;
	struct nftnl_batch *b;
	uint32_t first_seq;
	uint32_t set_id;
	int msgs;
	char what[64][48]; /* object per message (by seq offset), for error messages */
};

struct nft_chain_info {
	uint32_t family;
	char table[64], name[64];
	bool base;
	uint32_t hook, policy;
};

struct nft_chain_list {
	struct nft_chain_info *v;
	size_t n, cap;
	bool oom;
};

/* ---- nft_ranges.c ---- */
/* Address length of an address family (4 or 16). */
int nft_addr_len(uint8_t family);
/* The port ranges of access entry a for one protocol; out needs room for its ports. */
size_t nft_port_ranges(const struct access_rule *a, uint8_t proto, struct nft_range *out);
/* An interval set of ranges (keys of keylen bytes); *set_id for lookups in this batch. */
/* A set of ours announced in the batch (NEWSET; flags 0 = a hash set, size 0 = none
 * declared), to be filled with elements and sent with nft_set_elems_emit; NULL with e set. */
struct nftnl_set *nft_set_begin(struct nft_build *bd, const char *name, uint32_t flags,
				uint32_t dtype, uint32_t keylen, uint32_t size, uint32_t *set_id,
				mg_err *e);
/* The set's elements into the batch, as many NEWSETELEM messages as they need. */
int nft_set_elems_emit(struct nft_build *bd, struct nftnl_set *s, const char *name, mg_err *e);
int nft_add_set(struct nft_build *bd, const char *name, uint32_t dtype, uint32_t keylen,
		const struct nft_range *rs, size_t n, uint32_t *set_id, mg_err *e);

/* ---- nft_excl.c ---- */
#define NFT_EXCL_HASH_MIN 32 /* prefixes of one length that get their own hash set */
#define NFT_EXCL_HASH_MAX 16 /* hash sets per family at most (a rule's expressions) */
struct nft_excl {
	char name_int[24]; /* the interval set: nat_ex4 / nat_ex6 */
	uint32_t id_int;
	int n_hash;
	uint8_t len[NFT_EXCL_HASH_MAX]; /* prefix length of each hash set */
	char name[NFT_EXCL_HASH_MAX][24];
	uint32_t id[NFT_EXCL_HASH_MAX];
};
/* The sets holding exclusions ex[0..n_ex) of one family (the others are skipped). */
int nft_excl_sets(struct nft_build *bd, uint8_t family, const struct cidr *ex, size_t n_ex,
		  struct nft_excl *out, mg_err *e);
/* The rule's test: the destination is in none of the sets. */
int nft_excl_match(struct nftnl_rule *r, const struct nft_excl *x, uint8_t family);

/* ---- nft_batch.c ---- */
/* A message header in the batch; `what` names it in errors. */
struct nlmsghdr *nft_hdr(struct nft_build *bd, uint16_t type, uint16_t family, uint16_t flags,
			 const char *what);
/* Close the message just written (out of memory: -1). */
int nft_done(struct nft_build *bd, mg_err *e);
int nft_e_meta(struct nftnl_rule *r, uint32_t key);
int nft_e_ifname(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name);
int nft_e_u8(struct nftnl_rule *r, uint32_t meta_key, uint8_t v);
int nft_e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len);
int nft_e_lookup(struct nftnl_rule *r, const char *set, uint32_t set_id, bool inv);
/* register 1 &= mask (len bytes) */
int nft_e_mask(struct nftnl_rule *r, const uint8_t *mask, uint32_t len);
int nft_e_verdict(struct nftnl_rule *r, int verdict);
int nft_e_simple(struct nftnl_rule *r, const char *name);
int nft_e_ct_established(struct nftnl_rule *r);
int nft_e_mss_clamp(struct nftnl_rule *r);
struct nftnl_rule *nft_rule_new(const char *table, uint16_t family, const char *chain);
/* Add rule r to the batch when ok (else out of memory); r is freed either way. */
int nft_rule_commit(struct nft_build *bd, struct nftnl_rule *r, bool ok, uint16_t flags,
		    const char *what, mg_err *e);
int nft_add_chain(struct nft_build *bd, const char *name, const char *type, uint32_t hook, int prio,
		  mg_err *e);
int nft_add_table(struct nft_build *bd, uint16_t type, uint16_t flags, mg_err *e);
/* Start a batch / end and send it (every refusal reported; nothing changes then). */
int nft_batch_begin(struct nft_ctx *c, struct nft_build *bd, mg_err *e);
int nft_batch_end(struct nft_build *bd, mg_err *e);

/* ---- nft_scan.c ---- */
/* Every chain of every table (free l->v). */
int nft_list_chains(struct nft_ctx *c, struct nft_chain_list *l, mg_err *e);
/* Our opt-in accept in a foreign chain (ip filter `chain`): add it (want) or remove it. */
int nft_open_foreign(struct nft_ctx *c, struct nft_build *bd, const struct nft_chain_list *cl,
		     const char *chain, const char *tun, bool want, mg_err *e);

#endif
