/* SPDX-License-Identifier: MIT */
/* IPv4/IPv6 prefixes: strict parsing, formatting, comparison, containment. */
#ifndef MG_CIDR_H
#define MG_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

struct cidr {
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t len;      /* prefix length: 0..32 or 0..128 */
	uint8_t addr[16]; /* network byte order; only the first 4 bytes for AF_INET */
};

/* "255.255.255.255/32" or the longest IPv6 text form with "/128" and NUL. */
#define CIDR_STRLEN 64

enum cidr_parse_flags {
	CIDR_ALLOW_HOST_BITS = 1 << 0, /* "10.0.0.5/24" is an interface address, not an error */
	CIDR_ALLOW_BARE = 1 << 1,      /* "10.0.0.5" means /32 (or /128) */
};

/*
 * Parse "addr/len". By default the prefix length is required and host bits must be
 * zero ("10.0.0.1/8" is rejected with the canonical form suggested). IPv4 must be
 * dotted quad with no leading zeros; IPv6 whatever inet_pton accepts. Returns 0 or -1.
 */
int cidr_parse(const char *s, struct cidr *out, unsigned flags, mg_err *e);
/* Parse a bare address. Returns 0 or -1. */
int addr_parse(const char *s, uint8_t *family, uint8_t addr[16]);

/* Canonical text (lowercase, compressed IPv6). Returns buf. */
char *cidr_format(const struct cidr *c, char buf[CIDR_STRLEN]);
/* Address only, no "/len". */
char *cidr_format_addr(const struct cidr *c, char buf[CIDR_STRLEN]);

static inline int cidr_addr_len(const struct cidr *c)
{
	return c->family == AF_INET ? 4 : 16;
}
static inline int cidr_max_len(const struct cidr *c)
{
	return c->family == AF_INET ? 32 : 128;
}

/* Clear the host bits, making c the network it belongs to. */
void cidr_mask(struct cidr *c);
bool cidr_equal(const struct cidr *a, const struct cidr *b);
/* Total order: family, then address, then prefix length (for sorting and diffs). */
int cidr_cmp(const struct cidr *a, const struct cidr *b);
/* a covers all of b (same family, a.len <= b.len, b inside a). */
bool cidr_contains(const struct cidr *a, const struct cidr *b);
/* a covers the single address (family, addr). */
bool cidr_contains_addr(const struct cidr *a, uint8_t family, const uint8_t addr[16]);
/* The two prefixes share at least one address. */
bool cidr_overlaps(const struct cidr *a, const struct cidr *b);
/* 0.0.0.0/0 or ::/0 */
static inline bool cidr_is_default(const struct cidr *c)
{
	return c->len == 0;
}

/* Sort an array in place by cidr_cmp and drop exact duplicates; returns the new count. */
size_t cidr_sort_unique(struct cidr *v, size_t n);

#endif
