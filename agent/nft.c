/* SPDX-License-Identifier: MIT */
#include "nft.h"

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
#include "nl.h"

/* nft's datatype numbers (src/datatype.h), for set keys */
#define DT_IPV4_ADDR    7
#define DT_IPV6_ADDR    8
#define DT_INET_SERVICE 13
#define BYTEORDER_BIG   2

#define BATCH_PAGE (1u << 20)

struct nft_ctx {
	struct nl_sock s;       /* requests and batches (lib/nl.h) */
	struct mnl_socket *mon; /* NFNLGRP_NFTABLES notifications */
};

int nft_open(struct nft_ctx **out, mg_err *e)
{
	struct nft_ctx *c = calloc(1, sizeof(*c));
	/* big buffers for 100,000 elements; small ACKs (no echo of our large batches) */
	const struct nl_opts o = {.rcvbuf = MNL_SOCKET_BUFFER_SIZE * 4, .sockbuf = 8 << 20};

	*out = NULL;
	if (!c)
		return mg_err_set(e, "out of memory");
	if (nl_open(&c->s, NETLINK_NETFILTER, &o, "nftables netlink (is nf_tables available?)", e) <
	    0) {
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void nft_close(struct nft_ctx *c)
{
	if (!c)
		return;
	nl_close(&c->s);
	if (c->mon)
		mnl_socket_close(c->mon);
	free(c);
}

/* ---- ranges --------------------------------------------------------------------- */

static int alen(uint8_t family)
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
	int n = alen(p->family);
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
	return rcmp(x->lo, y->lo, alen(x->family));
}

size_t nft_merge_prefixes(const struct cidr *v, size_t n, uint8_t family, struct nft_range *out)
{
	size_t k = 0, m = 0;
	int len = alen(family);

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
	int len = alen(family);
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

/* ---- batch building ---------------------------------------------------------------- */

struct build {
	struct nft_ctx *c;
	struct nftnl_batch *b;
	uint32_t first_seq;
	uint32_t set_id;
	int msgs;
	char what[64][48]; /* object per message (by seq offset), for error messages */
};

static void note(struct build *bd, uint32_t seq, const char *what)
{
	uint32_t i = seq - bd->first_seq;
	if (i < 64)
		snprintf(bd->what[i], sizeof(bd->what[i]), "%s", what);
}

static struct nlmsghdr *hdr(struct build *bd, uint16_t type, uint16_t family, uint16_t flags,
                            const char *what)
{
	uint32_t seq = bd->c->s.seq++;
	note(bd, seq, what);
	bd->msgs++;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bd->b), type, family, flags | NLM_F_ACK,
	                             seq);
}

static int done(struct build *bd, mg_err *e)
{
	if (nftnl_batch_update(bd->b) < 0)
		return mg_err_set(e, "nftables batch: out of memory");
	return 0;
}

/* expressions */
static int add_expr(struct nftnl_rule *r, struct nftnl_expr *x)
{
	if (!x)
		return -1;
	nftnl_rule_add_expr(r, x);
	return 0;
}

static int e_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *x = nftnl_expr_alloc("meta");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(x, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return add_expr(r, x);
}

static int e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *x = nftnl_expr_alloc("cmp");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(x, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(x, NFTNL_EXPR_CMP_DATA, data, len);
	return add_expr(r, x);
}

static int e_ifname(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name)
{
	char buf[IFNAMSIZ] = {0};
	snprintf(buf, sizeof(buf), "%s", name);
	return e_meta(r, key) || e_cmp(r, op, buf, IFNAMSIZ) ? -1 : 0;
}

static int e_u8(struct nftnl_rule *r, uint32_t meta_key, uint8_t v)
{
	return e_meta(r, meta_key) || e_cmp(r, NFT_CMP_EQ, &v, 1) ? -1 : 0;
}

static int e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *x = nftnl_expr_alloc("payload");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	return add_expr(r, x);
}

static int e_lookup(struct nftnl_rule *r, const char *set, uint32_t set_id, bool inv)
{
	struct nftnl_expr *x = nftnl_expr_alloc("lookup");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(x, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	if (inv)
		nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	return add_expr(r, x);
}

static int e_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *x = nftnl_expr_alloc("immediate");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	return add_expr(r, x);
}

static int e_simple(struct nftnl_rule *r, const char *name)
{
	return add_expr(r, nftnl_expr_alloc(name));
}

static int e_bitwise(struct nftnl_rule *r, const void *mask, const void * xor, uint32_t len)
{
	struct nftnl_expr *x = nftnl_expr_alloc("bitwise");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(x, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(x, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(x, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(x, NFTNL_EXPR_BITWISE_XOR, xor, len);
	return add_expr(r, x);
}

static int e_ct_established(struct nftnl_rule *r)
{
	struct nftnl_expr *x = nftnl_expr_alloc("ct");
	uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
	uint32_t zero = 0;

	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(x, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	if (add_expr(r, x) || e_bitwise(r, &mask, &zero, 4))
		return -1;
	return e_cmp(r, NFT_CMP_NEQ, &zero, 4);
}

/* tcp flags syn / syn,rst  ->  tcp option maxseg size set rt mtu */
static int e_mss_clamp(struct nftnl_rule *r)
{
	struct nftnl_expr *x;
	uint8_t mask = 0x06, zero = 0, syn = 0x02;

	if (e_u8(r, NFT_META_L4PROTO, IPPROTO_TCP) ||
	    e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1))
		return -1;
	if (e_bitwise(r, &mask, &zero, 1) || e_cmp(r, NFT_CMP_EQ, &syn, 1))
		return -1;
	x = nftnl_expr_alloc("rt");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_RT_KEY, NFT_RT_TCPMSS);
	nftnl_expr_set_u32(x, NFTNL_EXPR_RT_DREG, NFT_REG_1);
	if (add_expr(r, x))
		return -1;
	x = nftnl_expr_alloc("byteorder");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
	nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
	nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_LEN, 2);
	nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_SIZE, 2);
	if (add_expr(r, x))
		return -1;
	x = nftnl_expr_alloc("exthdr");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_EXTHDR_SREG, NFT_REG_1);
	nftnl_expr_set_u8(x, NFTNL_EXPR_EXTHDR_TYPE, 2); /* maxseg */
	nftnl_expr_set_u32(x, NFTNL_EXPR_EXTHDR_OFFSET, 2);
	nftnl_expr_set_u32(x, NFTNL_EXPR_EXTHDR_LEN, 2);
	nftnl_expr_set_u32(x, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
	return add_expr(r, x);
}

static struct nftnl_rule *rule_new(const char *table, uint16_t family, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
	return r;
}

static int rule_commit(struct build *bd, struct nftnl_rule *r, bool ok, uint16_t flags,
                       const char *what, mg_err *e)
{
	struct nlmsghdr *nlh;

	if (!ok) {
		nftnl_rule_free(r);
		return mg_err_set(e, "nftables: out of memory building %s", what);
	}
	nlh = hdr(bd, NFT_MSG_NEWRULE, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
	          NLM_F_CREATE | flags, what);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return done(bd, e);
}

/* A named interval set of `keylen`-byte keys with its elements, split over messages. */
static int add_set(struct build *bd, const char *name, uint32_t dtype, uint32_t keylen,
                   const struct nft_range *rs, size_t n, uint32_t *set_id, mg_err *e)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
	struct nlmsghdr *nlh;
	uint8_t zero[16] = {0};
	int ret = -1;

	if (!s || !ud)
		goto oom;
	*set_id = ++bd->set_id;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, *set_id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, dtype);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, keylen);
	if (!nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, BYTEORDER_BIG))
		goto oom;
	nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
	                   nftnl_udata_buf_len(ud));
	nlh = hdr(bd, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, name);
	nftnl_set_nlmsg_build_payload(nlh, s);
	if (done(bd, e) < 0)
		goto out;

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
	if (n) {
		struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
		if (!it)
			goto oom;
		int more;
		do {
			nlh = hdr(bd, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE, name);
			more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
			if (more < 0 || done(bd, e) < 0) {
				nftnl_set_elems_iter_destroy(it);
				if (more < 0)
					mg_err_set(e, "nftables: cannot encode the elements of %s",
					           name);
				goto out;
			}
		} while (more > 0);
		nftnl_set_elems_iter_destroy(it);
	}
	ret = 0;
	goto out;
oom:
	mg_err_set(e, "nftables: out of memory building set %s", name);
out:
	if (ud)
		nftnl_udata_buf_free(ud);
	if (s)
		nftnl_set_free(s);
	return ret;
}

static int add_chain(struct build *bd, const char *name, const char *type, uint32_t hook, int prio,
                     mg_err *e)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!ch)
		return mg_err_set(e, "out of memory");
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = hdr(bd, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE, name);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nftnl_chain_free(ch);
	return done(bd, e);
}

static int add_table(struct build *bd, uint16_t type, uint16_t flags, mg_err *e)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return mg_err_set(e, "out of memory");
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = hdr(bd, type, NFPROTO_INET, flags, "table inet " NFT_TABLE_NAME);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return done(bd, e);
}

/* ---- sending ------------------------------------------------------------------------ */

struct refusals {
	const struct build *bd;
	char msg[768];
	size_t len;
	int n;
};

/* Every refused message of the batch, by what it was, with the kernel's own words. */
static void refused(size_t idx, int err, const char *text, void *arg)
{
	struct refusals *r = arg;
	const char *what = idx == SIZE_MAX                   ? "the batch itself"
	                   : idx < 64 && r->bd->what[idx][0] ? r->bd->what[idx]
	                                                     : "a message";
	int n;

	if (r->len >= sizeof(r->msg) - 1)
		return;
	n = snprintf(r->msg + r->len, sizeof(r->msg) - r->len, "%s%s (message %zu): %s%s%s%s",
	             r->n ? "; " : "", what, idx == SIZE_MAX ? 0 : idx + 1, strerror(err),
	             text ? " (" : "", text ? text : "", text ? ")" : "");
	if (n > 0)
		r->len +=
		    (size_t)n < sizeof(r->msg) - r->len ? (size_t)n : sizeof(r->msg) - r->len - 1;
	r->n++;
}

/* Send the batch; every member carries NLM_F_ACK: success is one zero ACK each. */
static int send_batch(struct build *bd, mg_err *e)
{
	int n = nftnl_batch_iovec_len(bd->b);
	struct iovec *iov = calloc((size_t)n, sizeof(*iov));
	struct refusals r = {.bd = bd};
	int ret;

	if (!iov)
		return mg_err_set(e, "out of memory");
	nftnl_batch_iovec(bd->b, iov, (uint32_t)n);
	ret = nl_batch(&bd->c->s, iov, (size_t)n, bd->first_seq, (size_t)bd->msgs, refused, &r, e);
	free(iov);
	if (ret < 0)
		return mg_err_prefix(e, "nftables batch");
	if (ret > 0)
		return mg_err_set(e,
		                  "nftables refused the ruleset at %s; the previous table is "
		                  "unchanged",
		                  r.msg);
	return 0;
}

static int batch_begin(struct nft_ctx *c, struct build *bd, mg_err *e)
{
	memset(bd, 0, sizeof(*bd));
	bd->c = c;
	bd->b = nftnl_batch_alloc(BATCH_PAGE, MNL_SOCKET_BUFFER_SIZE);
	if (!bd->b)
		return mg_err_set(e, "out of memory");
	nftnl_batch_begin(nftnl_batch_buffer(bd->b), c->s.seq++);
	if (done(bd, e) < 0)
		return -1;
	bd->first_seq = c->s.seq;
	return 0;
}

static int batch_end(struct build *bd, mg_err *e)
{
	nftnl_batch_end(nftnl_batch_buffer(bd->b), bd->c->s.seq++);
	if (done(bd, e) < 0)
		return -1;
	return send_batch(bd, e);
}

/* ---- foreign chains (read-only, and the opt-in rules) ----------------------------- */

struct chain_info {
	uint32_t family;
	char table[64], name[64];
	bool base;
	uint32_t hook, policy;
};

struct chain_list {
	struct chain_info *v;
	size_t n, cap;
	bool oom;
};

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct chain_list *l = data;
	struct nftnl_chain *ch = nftnl_chain_alloc();

	if (!ch)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, ch) < 0) {
		nftnl_chain_free(ch);
		return MNL_CB_OK;
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 32;
		struct chain_info *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv) {
			l->oom = true;
			nftnl_chain_free(ch);
			return MNL_CB_ERROR;
		}
		l->v = nv;
		l->cap = nc;
	}
	struct chain_info *ci = &l->v[l->n++];
	memset(ci, 0, sizeof(*ci));
	ci->family = nftnl_chain_get_u32(ch, NFTNL_CHAIN_FAMILY);
	snprintf(ci->table, sizeof(ci->table), "%s", nftnl_chain_get_str(ch, NFTNL_CHAIN_TABLE));
	snprintf(ci->name, sizeof(ci->name), "%s", nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM)) {
		ci->base = true;
		ci->hook = nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM);
		ci->policy = nftnl_chain_is_set(ch, NFTNL_CHAIN_POLICY)
		                 ? nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY)
		                 : NF_ACCEPT;
	}
	nftnl_chain_free(ch);
	return MNL_CB_OK;
}

/* A dump request; cb for each answer. */
static int dump(struct nft_ctx *c, uint16_t type, uint16_t family, void *payload_obj,
                void (*build)(struct nlmsghdr *, void *), mnl_cb_t cb, void *data, mg_err *e)
{
	char req[8192], xa[NL_EXTACK_LEN];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(req, type, family, NLM_F_DUMP, c->s.seq++);

	if (build)
		build(nlh, payload_obj);
	if (nl_talk(&c->s, nlh, cb, data, xa, sizeof(xa)) < 0) {
		if (errno == ENOENT)
			return 0; /* nothing of that kind */
		return mg_err_set(e, "nftables dump: %s%s", strerror(errno), xa);
	}
	return 0;
}

static int list_chains(struct nft_ctx *c, struct chain_list *l, mg_err *e)
{
	memset(l, 0, sizeof(*l));
	if (dump(c, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NULL, NULL, chain_cb, l, e) < 0 || l->oom) {
		free(l->v);
		l->v = NULL;
		return l->oom ? mg_err_set(e, "out of memory") : -1;
	}
	return 0;
}

static const struct chain_info *find_chain(const struct chain_list *l, uint32_t family,
                                           const char *table, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].family == family && !strcmp(l->v[i].table, table) &&
		    !strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

struct rule_handles {
	uint64_t h[64];
	size_t n;
};

static int our_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_handles *rh = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	uint32_t len = 0;
	const void *ud;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    (ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len)) && len > 2) {
		/* one TLV: type COMMENT, length, "meshgate\0" */
		const uint8_t *u = ud;
		if (u[0] == NFTNL_UDATA_RULE_COMMENT && u[1] == sizeof(NFT_RULE_COMMENT) &&
		    (uint32_t)u[1] + 2 <= len && !memcmp(u + 2, NFT_RULE_COMMENT, u[1]) &&
		    rh->n < MG_ARRAY_SIZE(rh->h))
			rh->h[rh->n++] = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static void rule_req_build(struct nlmsghdr *nlh, void *obj)
{
	nftnl_rule_nlmsg_build_payload(nlh, obj);
}

/* Handles of our marked rules in ip filter <chain>. */
static int our_rules(struct nft_ctx *c, const char *chain, struct rule_handles *rh, mg_err *e)
{
	struct nftnl_rule *q = rule_new("filter", NFPROTO_IPV4, chain);
	int r;

	memset(rh, 0, sizeof(*rh));
	if (!q)
		return mg_err_set(e, "out of memory");
	r = dump(c, NFT_MSG_GETRULE, NFPROTO_IPV4, q, rule_req_build, our_rule_cb, rh, e);
	nftnl_rule_free(q);
	return r;
}

static int del_rule(struct build *bd, const char *chain, uint64_t handle, mg_err *e)
{
	struct nftnl_rule *r = rule_new("filter", NFPROTO_IPV4, chain);
	struct nlmsghdr *nlh;

	if (!r)
		return mg_err_set(e, "out of memory");
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	nlh = hdr(bd, NFT_MSG_DELRULE, NFPROTO_IPV4, 0, chain);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return done(bd, e);
}

static int set_comment(struct nftnl_rule *r)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(32);
	if (!ud)
		return -1;
	if (!nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, NFT_RULE_COMMENT)) {
		nftnl_udata_buf_free(ud);
		return -1;
	}
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
	                    nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return 0;
}

/*
 * Opt-in: in an existing ip filter <chain> (DOCKER-USER, ufw-user-forward), replace our
 * marked accepts: `iifname tun accept`, `oifname tun ct state established,related accept`.
 */
static int open_foreign(struct nft_ctx *c, struct build *bd, const struct chain_list *cl,
                        const char *chain, const char *tun, bool want, mg_err *e)
{
	struct rule_handles rh;

	if (!find_chain(cl, NFPROTO_IPV4, "filter", chain))
		return 0;
	if (our_rules(c, chain, &rh, e) < 0)
		return -1;
	for (size_t i = 0; i < rh.n; i++)
		if (del_rule(bd, chain, rh.h[i], e) < 0)
			return -1;
	if (!want)
		return 0;
	for (int dir = 0; dir < 2; dir++) {
		struct nftnl_rule *r = rule_new("filter", NFPROTO_IPV4, chain);
		bool ok =
		    r && !set_comment(r) &&
		    !e_ifname(r, dir ? NFT_META_OIFNAME : NFT_META_IIFNAME, NFT_CMP_EQ, tun) &&
		    (!dir || !e_ct_established(r)) && !e_verdict(r, NF_ACCEPT);
		/* no NLM_F_APPEND: before docker's or ufw's own rules */
		if (rule_commit(bd, r, ok, 0, chain, e) < 0)
			return -1;
	}
	return 0;
}

/* ---- the ruleset ------------------------------------------------------------------- */

static int nat_rules(struct build *bd, const struct nft_spec *s, uint32_t id4, uint32_t id6,
                     mg_err *e)
{
	for (int v6 = 0; v6 < 2; v6++) {
		struct nftnl_rule *r = rule_new(NFT_TABLE_NAME, NFPROTO_INET, "postrouting");
		bool ok = r && !e_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, s->tun_if) &&
		          !e_ifname(r, NFT_META_OIFNAME, NFT_CMP_NEQ, s->tun_if) &&
		          !e_u8(r, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) &&
		          !e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4) &&
		          !e_lookup(r, v6 ? "nat_ex6" : "nat_ex4", v6 ? id6 : id4, true) &&
		          !e_simple(r, "counter") && !e_simple(r, "masq");
		if (rule_commit(bd, r, ok, NLM_F_APPEND, "masquerade rule", e) < 0)
			return -1;
	}
	return 0;
}

struct ports_sets {
	uint32_t a4, a6, tcp, udp;
	bool has4, has6, has_tcp, has_udp;
	char n_a4[24], n_a6[24], n_tcp[24], n_udp[24];
};

/* The access rules of one filter chain (forward or input). */
static int access_rules(struct build *bd, const struct nft_spec *s, const char *chain,
                        uint32_t full4, uint32_t full6, const struct ports_sets *ps, mg_err *e)
{
	struct nftnl_rule *r = rule_new(NFT_TABLE_NAME, NFPROTO_INET, chain);
	bool ok = r && !e_ct_established(r) && !e_verdict(r, NF_ACCEPT);

	if (rule_commit(bd, r, ok, NLM_F_APPEND, "established rule", e) < 0)
		return -1;
	for (int v6 = 0; v6 < 2; v6++) {
		r = rule_new(NFT_TABLE_NAME, NFPROTO_INET, chain);
		ok = r && !e_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, s->tun_if) &&
		     !e_u8(r, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) &&
		     !e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4) &&
		     !e_lookup(r, v6 ? "full6" : "full4", v6 ? full6 : full4, false) &&
		     !e_verdict(r, NF_ACCEPT);
		if (rule_commit(bd, r, ok, NLM_F_APPEND, "full-access rule", e) < 0)
			return -1;
	}
	for (size_t i = 0; i < s->n_access; i++) {
		const struct ports_sets *p = &ps[i];
		if (s->access[i].mode != ACCESS_PORTS)
			continue;
		for (int v6 = 0; v6 < 2; v6++) {
			if (!(v6 ? p->has6 : p->has4))
				continue;
			for (int udp = 0; udp < 2; udp++) {
				if (!(udp ? p->has_udp : p->has_tcp))
					continue;
				r = rule_new(NFT_TABLE_NAME, NFPROTO_INET, chain);
				ok = r && !e_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, s->tun_if) &&
				     !e_u8(r, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) &&
				     !e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16,
				                v6 ? 16 : 4) &&
				     !e_lookup(r, v6 ? p->n_a6 : p->n_a4, v6 ? p->a6 : p->a4,
				               false) &&
				     !e_u8(r, NFT_META_L4PROTO, udp ? IPPROTO_UDP : IPPROTO_TCP) &&
				     !e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2) &&
				     !e_lookup(r, udp ? p->n_udp : p->n_tcp, udp ? p->udp : p->tcp,
				               false) &&
				     !e_verdict(r, NF_ACCEPT);
				if (rule_commit(bd, r, ok, NLM_F_APPEND, "ports rule", e) < 0)
					return -1;
			}
		}
	}
	r = rule_new(NFT_TABLE_NAME, NFPROTO_INET, chain);
	ok = r && !e_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, s->tun_if) &&
	     !e_simple(r, "counter") && !e_verdict(r, NF_DROP);
	return rule_commit(bd, r, ok, NLM_F_APPEND, "final drop rule", e);
}

static size_t port_ranges(const struct access_rule *a, uint8_t proto, struct nft_range *out)
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

static int build_ruleset(struct nft_ctx *c, struct build *bd, const struct nft_spec *s,
                         const struct chain_list *cl, unsigned flags, mg_err *e)
{
	size_t nmax = s->n_exclude + 2 * s->n_access + 2;
	struct nft_range *rs = calloc(nmax, sizeof(*rs)), *split = NULL;
	struct ports_sets *ps = calloc(s->n_access + 1, sizeof(*ps));
	uint32_t ex4 = 0, ex6 = 0, full4 = 0, full6 = 0;
	bool nat = s->nat || s->egress;
	int ret = -1;
	size_t n;

	if (!rs || !ps)
		goto oom;
	/* add (so the delete never fails), delete (wipes ours), create afresh */
	if (add_table(bd, NFT_MSG_NEWTABLE, NLM_F_CREATE, e) < 0 ||
	    add_table(bd, NFT_MSG_DELTABLE, 0, e) < 0 ||
	    add_table(bd, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, e) < 0)
		goto out;

	if (nat) {
		n = nft_merge_prefixes(s->exclude, s->n_exclude, AF_INET, rs);
		if (add_set(bd, "nat_ex4", DT_IPV4_ADDR, 4, rs, n, &ex4, e) < 0)
			goto out;
		n = nft_merge_prefixes(s->exclude, s->n_exclude, AF_INET6, rs);
		if (add_set(bd, "nat_ex6", DT_IPV6_ADDR, 16, rs, n, &ex6, e) < 0)
			goto out;
	}
	split = calloc(2 * s->n_access + 1, sizeof(*split));
	if (!split)
		goto oom;
	for (int v6 = 0; v6 < 2; v6++) {
		uint8_t fam = v6 ? AF_INET6 : AF_INET;
		size_t ns = nft_access_split(s->access, s->n_access, fam, split), k = 0;
		/* full */
		for (size_t i = 0; i < ns; i++)
			if (s->access[split[i].tag].mode == ACCESS_FULL)
				rs[k++] = split[i];
		if (add_set(bd, v6 ? "full6" : "full4", v6 ? DT_IPV6_ADDR : DT_IPV4_ADDR,
		            (uint32_t)alen(fam), rs, k, v6 ? &full6 : &full4, e) < 0)
			goto out;
		/* ports: one address set per entry, holding what that entry decides */
		for (size_t a = 0; a < s->n_access; a++) {
			struct ports_sets *p = &ps[a];
			if (s->access[a].mode != ACCESS_PORTS)
				continue;
			k = 0;
			for (size_t i = 0; i < ns; i++)
				if (split[i].tag == (int)a)
					rs[k++] = split[i];
			if (k == 0)
				continue;
			snprintf(v6 ? p->n_a6 : p->n_a4, 24, "p%u_a%d", (unsigned)a, v6 ? 6 : 4);
			if (add_set(bd, v6 ? p->n_a6 : p->n_a4, v6 ? DT_IPV6_ADDR : DT_IPV4_ADDR,
			            (uint32_t)alen(fam), rs, k, v6 ? &p->a6 : &p->a4, e) < 0)
				goto out;
			*(v6 ? &p->has6 : &p->has4) = true;
		}
	}
	for (size_t a = 0; a < s->n_access; a++) {
		struct ports_sets *p = &ps[a];
		struct nft_range pr[CONFIG_MAX_PORTS];
		if (s->access[a].mode != ACCESS_PORTS || (!p->has4 && !p->has6))
			continue;
		for (int udp = 0; udp < 2; udp++) {
			size_t k = port_ranges(&s->access[a], udp ? IPPROTO_UDP : IPPROTO_TCP, pr);
			if (k == 0)
				continue;
			snprintf(udp ? p->n_udp : p->n_tcp, 24, "p%u_%s", (unsigned)a,
			         udp ? "udp" : "tcp");
			if (add_set(bd, udp ? p->n_udp : p->n_tcp, DT_INET_SERVICE, 2, pr, k,
			            udp ? &p->udp : &p->tcp, e) < 0)
				goto out;
			*(udp ? &p->has_udp : &p->has_tcp) = true;
		}
	}

	if (nat && (add_chain(bd, "postrouting", "nat", NF_INET_POST_ROUTING, 100, e) < 0 ||
	            nat_rules(bd, s, ex4, ex6, e) < 0))
		goto out;
	if (add_chain(bd, "forward", "filter", NF_INET_FORWARD, 0, e) < 0 ||
	    access_rules(bd, s, "forward", full4, full6, ps, e) < 0 ||
	    add_chain(bd, "input", "filter", NF_INET_LOCAL_IN, 0, e) < 0 ||
	    access_rules(bd, s, "input", full4, full6, ps, e) < 0)
		goto out;
	if (s->mss_clamp) {
		if (add_chain(bd, "mssclamp", "filter", NF_INET_FORWARD, -150, e) < 0)
			goto out;
		for (int dir = 0; dir < 2; dir++) {
			struct nftnl_rule *r = rule_new(NFT_TABLE_NAME, NFPROTO_INET, "mssclamp");
			bool ok = r &&
			          !e_ifname(r, dir ? NFT_META_OIFNAME : NFT_META_IIFNAME,
			                    NFT_CMP_EQ, s->tun_if) &&
			          !e_mss_clamp(r);
			if (rule_commit(bd, r, ok, NLM_F_APPEND, "MSS clamp rule", e) < 0)
				goto out;
		}
	}
	if (open_foreign(c, bd, cl, "DOCKER-USER", s->tun_if, s->open_docker_user, e) < 0 ||
	    open_foreign(c, bd, cl, "ufw-user-forward", s->tun_if, s->open_ufw, e) < 0)
		goto out;
	if (flags & NFT_APPLY_TEST_REJECT) {
		struct nftnl_rule *r = rule_new(NFT_TABLE_NAME, NFPROTO_INET, "forward");
		bool ok =
		    r && !e_meta(r, NFT_META_L4PROTO) && !e_lookup(r, "no_such_set", 0xdead, false);
		if (rule_commit(bd, r, ok, NLM_F_APPEND, "test rule (no_such_set)", e) < 0)
			goto out;
	}
	ret = 0;
	goto out;
oom:
	mg_err_set(e, "out of memory");
out:
	free(rs);
	free(split);
	free(ps);
	return ret;
}

/*
 * Egress: the mesh's internet traffic leaves here, so everything the access list does
 * not name is reachable (a /0 full entry under the list: any entry is more specific).
 */
static int egress_access(const struct nft_spec *s, struct nft_spec *out, struct access_rule **owned,
                         mg_err *e)
{
	bool has4 = false, has6 = false;
	size_t n = s->n_access;

	*out = *s;
	*owned = NULL;
	if (!s->egress)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s->access[i].cidr.len == 0)
			*(s->access[i].cidr.family == AF_INET ? &has4 : &has6) = true;
	}
	*owned = calloc(n + 2, sizeof(**owned));
	if (!*owned)
		return mg_err_set(e, "out of memory");
	memcpy(*owned, s->access, n * sizeof(**owned));
	if (!has4)
		(*owned)[n++] =
		    (struct access_rule){.cidr = {.family = AF_INET}, .mode = ACCESS_FULL};
	if (!has6)
		(*owned)[n++] =
		    (struct access_rule){.cidr = {.family = AF_INET6}, .mode = ACCESS_FULL};
	out->access = *owned;
	out->n_access = n;
	return 0;
}

int nft_apply(struct nft_ctx *c, const struct nft_spec *spec, unsigned flags, mg_err *e)
{
	struct chain_list cl;
	struct access_rule *extra;
	struct nft_spec sp, *s = &sp;
	struct build bd;
	int r;

	if (egress_access(spec, &sp, &extra, e) < 0)
		return -1;

	if (list_chains(c, &cl, e) < 0) {
		free(extra);
		return -1;
	}
	if (batch_begin(c, &bd, e) < 0) {
		free(cl.v);
		free(extra);
		return -1;
	}
	r = build_ruleset(c, &bd, s, &cl, flags, e);
	if (r == 0)
		r = batch_end(&bd, e);
	nftnl_batch_free(bd.b);
	free(cl.v);
	free(extra);
	return r;
}

int nft_remove(struct nft_ctx *c, mg_err *e)
{
	struct chain_list cl;
	struct build bd;
	int r;

	if (list_chains(c, &cl, e) < 0)
		return -1;
	if (batch_begin(c, &bd, e) < 0) {
		free(cl.v);
		return -1;
	}
	r = add_table(&bd, NFT_MSG_NEWTABLE, NLM_F_CREATE, e);
	if (r == 0)
		r = add_table(&bd, NFT_MSG_DELTABLE, 0, e);
	if (r == 0)
		r = open_foreign(c, &bd, &cl, "DOCKER-USER", "", false, e);
	if (r == 0)
		r = open_foreign(c, &bd, &cl, "ufw-user-forward", "", false, e);
	if (r == 0)
		r = batch_end(&bd, e);
	nftnl_batch_free(bd.b);
	free(cl.v);
	return r;
}

int nft_table_present(struct nft_ctx *c, mg_err *e)
{
	struct chain_list cl;
	int found = 0;

	if (list_chains(c, &cl, e) < 0)
		return -1;
	for (size_t i = 0; i < cl.n; i++)
		if (cl.v[i].family == NFPROTO_INET && !strcmp(cl.v[i].table, NFT_TABLE_NAME))
			found = 1;
	free(cl.v);
	return found;
}

int nft_coexist_scan(struct nft_ctx *c, const char *tun, char w[][NFT_WARN_LEN], int max, mg_err *e)
{
	struct chain_list cl;
	int n = 0;

	if (list_chains(c, &cl, e) < 0)
		return -1;
	for (size_t i = 0; i < cl.n && n < max; i++) {
		const struct chain_info *ci = &cl.v[i];
		const char *fam = ci->family == NFPROTO_IPV4   ? "ip"
		                  : ci->family == NFPROTO_IPV6 ? "ip6"
		                  : ci->family == NFPROTO_INET ? "inet"
		                                               : "other";
		if (!ci->base || ci->hook != NF_INET_FORWARD || ci->policy != NF_DROP ||
		    !strcmp(ci->table, NFT_TABLE_NAME))
			continue;
		if (find_chain(&cl, ci->family, ci->table, "DOCKER-USER"))
			snprintf(
			    w[n++], NFT_WARN_LEN,
			    "%s %.32s %.32s drops forwarded traffic by policy (docker): allow the "
			    "mesh with `iptables -I DOCKER-USER -i %s -j ACCEPT` or run "
			    "meshgate with --open-docker-user",
			    fam, ci->table, ci->name, tun);
		else if (find_chain(&cl, ci->family, ci->table, "ufw-user-forward"))
			snprintf(w[n++], NFT_WARN_LEN,
			         "%s %.32s %.32s drops forwarded traffic by policy (ufw): allow "
			         "the mesh "
			         "with `ufw route allow in on %s` or run meshgate with --open-ufw",
			         fam, ci->table, ci->name, tun);
		else
			snprintf(
			    w[n++], NFT_WARN_LEN,
			    "%s %.32s %.32s drops forwarded traffic by policy: add an accept for "
			    "packets in on %s there (meshgate never edits other tables)",
			    fam, ci->table, ci->name, tun);
	}
	for (size_t i = 0; i < cl.n && n < max; i++)
		if (cl.v[i].family == NFPROTO_INET && !strcmp(cl.v[i].table, "firewalld")) {
			snprintf(
			    w[n++], NFT_WARN_LEN,
			    "firewalld is active: put the tunnel in a zone that forwards, e.g. "
			    "`firewall-cmd --permanent --zone=trusted --add-interface=%s && "
			    "firewall-cmd --reload`",
			    tun);
			break;
		}
	free(cl.v);
	return n;
}

/* ---- monitor ------------------------------------------------------------------------ */

int nft_mon_open(struct nft_ctx *c, mg_err *e)
{
	int sz = 4 << 20;

	c->mon = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!c->mon ||
	    mnl_socket_bind(c->mon, 1 << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		if (c->mon)
			mnl_socket_close(c->mon);
		c->mon = NULL;
		return mg_err_set(e, "nftables monitor: %s", strerror(errno));
	}
	setsockopt(mnl_socket_get_fd(c->mon), SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	return 0;
}

int nft_mon_fd(const struct nft_ctx *c)
{
	return c->mon ? mnl_socket_get_fd(c->mon) : -1;
}

/* The table name is attribute 1 of table, chain, rule, set and element messages. */
static bool about_our_table(const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*g) || g->nfgen_family != NFPROTO_INET)
		return false;
	mnl_attr_for_each(a, nlh, sizeof(*g))
	{
		if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			return !strcmp(mnl_attr_get_str(a), NFT_TABLE_NAME);
	}
	return false;
}

int nft_mon_read(struct nft_ctx *c, bool *touched, mg_err *e)
{
	*touched = false;
	if (!c->mon)
		return 0;
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(c->mon), c->s.buf, c->s.buflen, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS) { /* events lost: assume the worst */
				*touched = true;
				continue;
			}
			return mg_err_set(e, "nftables monitor: %s", strerror(errno));
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)c->s.buf;
		int left = (int)n;
		while (mnl_nlmsg_ok(nlh, left)) {
			uint16_t type = nlh->nlmsg_type & 0xff;
			bool sub = (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES;
			/* notifications carry the portid of the socket that made the change */
			if (sub && type != NFT_MSG_NEWGEN && nlh->nlmsg_pid != c->s.portid &&
			    about_our_table(nlh))
				*touched = true;
			nlh = mnl_nlmsg_next(nlh, &left);
		}
	}
}
