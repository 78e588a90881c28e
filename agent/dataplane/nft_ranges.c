/* SPDX-License-Identifier: MIT */
/* nftables: address and port ranges (merge, longest-prefix split) and interval sets. */
#include "nft_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* ---- ranges --------------------------------------------------------------------- */

int nft_addr_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static int rcmp(const uint8_t *a, const uint8_t *b, int n)
{
	return memcmp(a, b, (size_t)n);
}

/* a += 1; returns false on overflow (a was all ones) */
static bool inc(uint8_t *a, int n)
{
	for (int i = n - 1; i >= 0; i--)
		if (++a[i] != 0)
			return true;
	return false;
}

static bool is_max(const uint8_t *a, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != 0xff)
			return false;
	return true;
}

static void prefix_range(const struct cidr *p, struct nft_range *r)
{
	int n = nft_addr_len(p->family);
	memset(r, 0, sizeof(*r));
	r->family = p->family;
	r->tag = -1;
	memcpy(r->lo, p->addr, (size_t)n);
	memcpy(r->hi, p->addr, (size_t)n);
	for (int bit = p->len; bit < n * 8; bit++)
		r->hi[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

static int range_qcmp(const void *a, const void *b)
{
	const struct nft_range *x = a, *y = b;
	return rcmp(x->lo, y->lo, nft_addr_len(x->family));
}

size_t nft_merge_prefixes(const struct cidr *v, size_t n, uint8_t family, struct nft_range *out)
{
	size_t k = 0, m = 0;
	int len = nft_addr_len(family);

	for (size_t i = 0; i < n; i++)
		if (v[i].family == family)
			prefix_range(&v[i], &out[k++]);
	if (k == 0)
		return 0;
	qsort(out, k, sizeof(*out), range_qcmp);
	for (size_t i = 1; i < k; i++) {
		struct nft_range *cur = &out[m];
		uint8_t next[16];
		memcpy(next, cur->hi, 16);
		bool top = !inc(next, len);
		/* overlapping or touching: one range (the kernel refuses overlaps) */
		if (top || rcmp(out[i].lo, next, len) <= 0) {
			if (rcmp(out[i].hi, cur->hi, len) > 0)
				memcpy(cur->hi, out[i].hi, 16);
			continue;
		}
		out[++m] = out[i];
	}
	return m + 1;
}

size_t nft_access_split(const struct access_rule *acc, size_t n, uint8_t family,
			struct nft_range *out)
{
	int len = nft_addr_len(family);
	size_t nb = 0, k = 0;
	uint8_t(*b)[16];

	/* elementary boundaries: every start and every end+1 */
	b = calloc(2 * n + 1, sizeof(*b));
	if (!b)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct nft_range r;
		if (acc[i].cidr.family != family)
			continue;
		prefix_range(&acc[i].cidr, &r);
		memcpy(b[nb++], r.lo, 16);
		if (inc(r.hi, len))
			memcpy(b[nb++], r.hi, 16);
	}
	/* sort and unique (insertion sort: n is at most CONFIG_MAX_ACCESS) */
	for (size_t i = 1; i < nb; i++)
		for (size_t j = i; j > 0 && rcmp(b[j - 1], b[j], len) > 0; j--) {
			uint8_t t[16];
			memcpy(t, b[j], 16);
			memcpy(b[j], b[j - 1], 16);
			memcpy(b[j - 1], t, 16);
		}
	for (size_t i = 0; i < nb; i++) {
		if (i + 1 < nb && !rcmp(b[i], b[i + 1], len))
			continue; /* duplicate boundary */
		struct nft_range r = {.family = family, .tag = -1};
		int best = -1;
		memcpy(r.lo, b[i], 16);
		/* the range runs to the next distinct boundary - 1, or to the top */
		size_t j = i + 1;
		if (j < nb) {
			memcpy(r.hi, b[j], 16);
			for (int x = len - 1; x >= 0; x--)
				if (r.hi[x]-- != 0)
					break;
		} else {
			memset(r.hi, 0xff, (size_t)len);
		}
		for (size_t a = 0; a < n; a++) {
			if (acc[a].cidr.family != family ||
			    !cidr_contains_addr(&acc[a].cidr, family, r.lo))
				continue;
			if (best < 0 || acc[a].cidr.len > acc[best].cidr.len)
				best = (int)a;
		}
		if (best < 0)
			continue; /* not covered by any entry: the final drop */
		r.tag = best;
		if (k > 0 && out[k - 1].tag == best) {
			uint8_t next[16];
			memcpy(next, out[k - 1].hi, 16);
			if (inc(next, len) && !rcmp(next, r.lo, len)) {
				memcpy(out[k - 1].hi, r.hi, 16);
				continue;
			}
		}
		out[k++] = r;
	}
	free(b);
	return k;
}

size_t nft_port_ranges(const struct access_rule *a, uint8_t proto, struct nft_range *out)
{
	size_t k = 0, m = 0;

	for (size_t i = 0; i < a->n_ports; i++) {
		if (a->ports[i].proto != proto)
			continue;
		struct nft_range *r = &out[k++];
		memset(r, 0, sizeof(*r));
		r->family = AF_INET; /* only used for the length below: 2-byte keys */
		uint16_t lo = htons(a->ports[i].first), hi = htons(a->ports[i].last);
		memcpy(r->lo, &lo, 2);
		memcpy(r->hi, &hi, 2);
	}
	if (k == 0)
		return 0;
	/* sort and merge 2-byte ranges */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && rcmp(out[j - 1].lo, out[j].lo, 2) > 0; j--) {
			struct nft_range t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	for (size_t i = 1; i < k; i++) {
		uint8_t next[2] = {out[m].hi[0], out[m].hi[1]};
		bool top = !inc(next, 2);
		if (top || rcmp(out[i].lo, next, 2) <= 0) {
			if (rcmp(out[i].hi, out[m].hi, 2) > 0)
				memcpy(out[m].hi, out[i].hi, 2);
			continue;
		}
		out[++m] = out[i];
	}
	return m + 1;
}

struct nftnl_set *nft_set_begin(struct nft_build *bd, const char *name, uint32_t flags,
				uint32_t dtype, uint32_t keylen, uint32_t size, uint32_t *set_id,
				mg_err *e)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
	struct nlmsghdr *nlh;

	if (!s || !ud || !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, BYTEORDER_BIG)) {
		mg_err_set(e, "nftables: out of memory building set %s", name);
		goto fail;
	}
	*set_id = ++bd->set_id;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, *set_id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, dtype);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, keylen);
	if (size)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
	/* the set keeps its own copy of the user data */
	if (nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
			       nftnl_udata_buf_len(ud)) < 0) {
		mg_err_set(e, "nftables: out of memory building set %s", name);
		goto fail;
	}
	nftnl_udata_buf_free(ud);
	ud = NULL;
	nlh = nft_hdr(bd, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, name);
	nftnl_set_nlmsg_build_payload(nlh, s);
	if (nft_done(bd, e) < 0)
		goto fail;
	return s;
fail:
	if (ud)
		nftnl_udata_buf_free(ud);
	if (s)
		nftnl_set_free(s);
	return NULL;
}

int nft_set_elems_emit(struct nft_build *bd, struct nftnl_set *s, const char *name, mg_err *e)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	int more;

	if (!it)
		return mg_err_set(e, "nftables: out of memory building set %s", name);
	do {
		struct nlmsghdr *nlh =
		    nft_hdr(bd, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE, name);
		more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
		if (more < 0 || nft_done(bd, e) < 0) {
			nftnl_set_elems_iter_destroy(it);
			if (more < 0)
				mg_err_set(e, "nftables: cannot encode the elements of %s", name);
			return -1;
		}
	} while (more > 0);
	nftnl_set_elems_iter_destroy(it);
	return 0;
}

int nft_add_set(struct nft_build *bd, const char *name, uint32_t dtype, uint32_t keylen,
		const struct nft_range *rs, size_t n, uint32_t *set_id, mg_err *e)
{
	struct nftnl_set *s =
	    nft_set_begin(bd, name, NFT_SET_INTERVAL, dtype, keylen, 0, set_id, e);
	uint8_t zero[16] = {0};
	int ret = -1;

	if (!s)
		return -1;
	/* elements: start, end+1 (flagged), as nft sends them (src/intervals.c) */
	if (n && rcmp(rs[0].lo, zero, (int)keylen)) {
		struct nftnl_set_elem *el = nftnl_set_elem_alloc();
		if (!el)
			goto oom;
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, zero, keylen);
		nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
		nftnl_set_elem_add(s, el);
	}
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *el = nftnl_set_elem_alloc();
		if (!el)
			goto oom;
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, rs[i].lo, keylen);
		nftnl_set_elem_add(s, el);
		if (is_max(rs[i].hi, (int)keylen))
			continue; /* open to the top of the space: no end element */
		uint8_t end[16];
		memcpy(end, rs[i].hi, 16);
		inc(end, (int)keylen);
		el = nftnl_set_elem_alloc();
		if (!el)
			goto oom;
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, end, keylen);
		nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
		nftnl_set_elem_add(s, el);
	}
	ret = n ? nft_set_elems_emit(bd, s, name, e) : 0;
	goto out;
oom:
	mg_err_set(e, "nftables: out of memory building set %s", name);
out:
	nftnl_set_free(s);
	return ret;
}
