/* SPDX-License-Identifier: MIT */
/*
 * nftables: the NAT exclusions' layout (bench/bench_nftsets.c has the figures).
 *
 * Loading thousands of ranges into one interval set costs the kernel an rbtree insertion
 * (and its overlap checks) per start and per end element: 10,000 /24s took ~60 ms. A
 * plain hash set takes the same number of keys several times faster. So the exclusions,
 * merged and cut back into the fewest prefixes that cover exactly the same addresses,
 * are held by prefix length: a length with at least NFT_EXCL_HASH_MIN prefixes gets a
 * hash set of its network addresses (`nat_ex4_24`: the size declared, so the kernel
 * picks its fixed-size hash), everything else stays in the interval set (`nat_ex4`, as
 * before: a few exclusions look exactly as they did). The masquerade rule looks the
 * destination up in each: masked to the set's length (a /32 or /128 needs no mask), not
 * found in any of them. The same addresses match as with one interval set.
 */
#include "nft_priv.h"

#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bits(uint8_t family)
{
	return nft_addr_len(family) * 8;
}

static bool bit(const uint8_t *a, int i)
{
	return a[i / 8] & (0x80 >> (i % 8));
}

/* lo with every bit from `l` on set: the last address of lo/l */
static void prefix_end(const uint8_t *lo, int l, int nbits, uint8_t *end)
{
	memcpy(end, lo, 16);
	for (int b = l; b < nbits; b++)
		end[b / 8] |= (uint8_t)(0x80 >> (b % 8));
}

/* The shortest prefix starting at lo that ends at or before hi (lo <= hi). */
static int first_prefix(const uint8_t *lo, const uint8_t *hi, int nbits)
{
	int l = nbits;
	uint8_t end[16];

	while (l > 0 && !bit(lo, l - 1)) /* the shortest prefix lo is aligned to */
		l--;
	for (;; l++) { /* its end falls as the prefix lengthens; /nbits always fits */
		prefix_end(lo, l, nbits, end);
		if (l == nbits || memcmp(end, hi, (size_t)nbits / 8) <= 0)
			return l;
	}
}

/* The fewest prefixes covering exactly the merged ranges rs[0..n); out needs room for
 * excl_max(n) of them. Returns how many. */
static size_t to_prefixes(const struct nft_range *rs, size_t n, uint8_t family, struct cidr *out,
			  size_t max)
{
	int nb = bits(family), len = nft_addr_len(family);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t lo[16];
		memcpy(lo, rs[i].lo, 16);
		for (;;) {
			int l = first_prefix(lo, rs[i].hi, nb);
			bool top = true;
			if (k == max)
				return k;
			memset(&out[k], 0, sizeof(out[k]));
			out[k].family = family;
			out[k].len = (uint8_t)l;
			memcpy(out[k].addr, lo, (size_t)len);
			k++;
			/* next start: the end of this prefix + 1 */
			uint8_t t[16];
			prefix_end(lo, l, nb, t);
			memcpy(lo, t, 16);
			if (!memcmp(lo, rs[i].hi, (size_t)len))
				break;
			for (int x = len - 1; x >= 0 && top; x--)
				top = ++lo[x] == 0;
			if (top)
				break; /* wrapped: the range ran to the top of the space */
		}
	}
	return k;
}

static size_t excl_max(size_t n)
{
	/* merged ranges never need more prefixes than the prefixes they came from; a
	 * range's cut has at most two per bit besides */
	return n + 2 * 128 + 1;
}

static int hash_set(struct nft_build *bd, const char *name, uint8_t family, const struct cidr *v,
		    size_t n, uint32_t *set_id, mg_err *e)
{
	uint32_t keylen = (uint32_t)nft_addr_len(family);
	struct nftnl_set *s =
	    nft_set_begin(bd, name, 0, family == AF_INET ? DT_IPV4_ADDR : DT_IPV6_ADDR, keylen,
			  (uint32_t)n, set_id, e);
	int ret;

	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *el = nftnl_set_elem_alloc();
		if (!el) {
			nftnl_set_free(s);
			return mg_err_set(e, "nftables: out of memory building set %s", name);
		}
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, v[i].addr, keylen);
		nftnl_set_elem_add(s, el);
	}
	ret = nft_set_elems_emit(bd, s, name, e);
	nftnl_set_free(s);
	return ret;
}

int nft_excl_sets(struct nft_build *bd, uint8_t family, const struct cidr *ex, size_t n_ex,
		  struct nft_excl *out, mg_err *e)
{
	size_t max = excl_max(n_ex), np, rest = 0, count[129] = {0};
	struct nft_range *rs = calloc(n_ex + 1, sizeof(*rs));
	struct cidr *p = calloc(max, sizeof(*p)), *other = calloc(max, sizeof(*other));
	const char *base = family == AF_INET ? "nat_ex4" : "nat_ex6";
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!rs || !p || !other) {
		mg_err_set(e, "nftables: out of memory for %zu exclusions", n_ex);
		goto out;
	}
	np = to_prefixes(rs, nft_merge_prefixes(ex, n_ex, family, rs), family, p, max);
	for (size_t i = 0; i < np; i++)
		count[p[i].len]++;
	/* the lengths that get a hash set: the most populated ones, up to NFT_EXCL_HASH_MAX */
	for (int k = 0; k < NFT_EXCL_HASH_MAX; k++) {
		int best = -1;
		for (int l = 0; l <= bits(family); l++)
			if (count[l] >= NFT_EXCL_HASH_MIN && (best < 0 || count[l] > count[best]))
				best = l;
		if (best < 0)
			break;
		out->len[out->n_hash++] = (uint8_t)best;
		count[best] = 0; /* taken */
	}
	/* each hash set's prefixes together (in address order), the rest in `other` */
	for (int k = 0; k < out->n_hash; k++) {
		size_t m = 0;
		for (size_t i = 0; i < np; i++)
			if (p[i].len == out->len[k])
				other[m++] = p[i];
		snprintf(out->name[k], sizeof(out->name[k]), "%s_%d", base, out->len[k]);
		if (hash_set(bd, out->name[k], family, other, m, &out->id[k], e) < 0)
			goto out;
	}
	for (size_t i = 0; i < np; i++) {
		bool hashed = false;
		for (int k = 0; k < out->n_hash; k++)
			hashed |= p[i].len == out->len[k];
		if (!hashed)
			other[rest++] = p[i];
	}
	/* the rest: one interval set, as ever (the ranges merged again) */
	snprintf(out->name_int, sizeof(out->name_int), "%s", base);
	if (nft_add_set(bd, base, family == AF_INET ? DT_IPV4_ADDR : DT_IPV6_ADDR,
			(uint32_t)nft_addr_len(family), rs,
			nft_merge_prefixes(other, rest, family, rs), &out->id_int, e) < 0)
		goto out;
	ret = 0;
out:
	free(rs);
	free(p);
	free(other);
	return ret;
}

int nft_excl_match(struct nftnl_rule *r, const struct nft_excl *x, uint8_t family)
{
	int len = nft_addr_len(family), off = family == AF_INET ? 16 : 24;

	if (nft_e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, (uint32_t)off, (uint32_t)len) ||
	    nft_e_lookup(r, x->name_int, x->id_int, true))
		return -1;
	for (int k = 0; k < x->n_hash; k++) {
		uint8_t mask[16] = {0};
		for (int b = 0; b < x->len[k]; b++)
			mask[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		if (nft_e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, (uint32_t)off, (uint32_t)len) ||
		    (x->len[k] < len * 8 && nft_e_mask(r, mask, (uint32_t)len)) ||
		    nft_e_lookup(r, x->name[k], x->id[k], true))
			return -1;
	}
	return 0;
}
