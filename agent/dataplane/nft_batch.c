/* SPDX-License-Identifier: MIT */
/* nftables: building a batch (messages, expressions, rules, chains, tables) and sending it. */
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

#define BATCH_PAGE (1u << 20)

/* ---- batch building ---------------------------------------------------------------- */

static void note(struct nft_build *bd, uint32_t seq, const char *what)
{
	uint32_t i = seq - bd->first_seq;
	if (i < 64)
		snprintf(bd->what[i], sizeof(bd->what[i]), "%s", what);
}

struct nlmsghdr *nft_hdr(struct nft_build *bd, uint16_t type, uint16_t family, uint16_t flags,
			 const char *what)
{
	uint32_t seq = bd->c->s.seq++;
	note(bd, seq, what);
	bd->msgs++;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bd->b), type, family, flags | NLM_F_ACK,
				     seq);
}

int nft_done(struct nft_build *bd, mg_err *e)
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

int nft_e_meta(struct nftnl_rule *r, uint32_t key)
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

int nft_e_ifname(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name)
{
	char buf[IFNAMSIZ] = {0};
	snprintf(buf, sizeof(buf), "%s", name);
	return nft_e_meta(r, key) || e_cmp(r, op, buf, IFNAMSIZ) ? -1 : 0;
}

int nft_e_u8(struct nftnl_rule *r, uint32_t meta_key, uint8_t v)
{
	return nft_e_meta(r, meta_key) || e_cmp(r, NFT_CMP_EQ, &v, 1) ? -1 : 0;
}

int nft_e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
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

int nft_e_lookup(struct nftnl_rule *r, const char *set, uint32_t set_id, bool inv)
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

int nft_e_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *x = nftnl_expr_alloc("immediate");
	if (!x)
		return -1;
	nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	return add_expr(r, x);
}

int nft_e_simple(struct nftnl_rule *r, const char *name)
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

int nft_e_mask(struct nftnl_rule *r, const uint8_t *mask, uint32_t len)
{
	static const uint8_t zero[16];
	return e_bitwise(r, mask, zero, len);
}

int nft_e_ct_established(struct nftnl_rule *r)
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
int nft_e_mss_clamp(struct nftnl_rule *r)
{
	struct nftnl_expr *x;
	uint8_t mask = 0x06, zero = 0, syn = 0x02;

	if (nft_e_u8(r, NFT_META_L4PROTO, IPPROTO_TCP) ||
	    nft_e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1))
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

struct nftnl_rule *nft_rule_new(const char *table, uint16_t family, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
	return r;
}

int nft_rule_commit(struct nft_build *bd, struct nftnl_rule *r, bool ok, uint16_t flags,
		    const char *what, mg_err *e)
{
	struct nlmsghdr *nlh;

	if (!ok) {
		nftnl_rule_free(r);
		return mg_err_set(e, "nftables: out of memory building %s", what);
	}
	nlh = nft_hdr(bd, NFT_MSG_NEWRULE, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
		      NLM_F_CREATE | flags, what);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nft_done(bd, e);
}

/* A named interval set of `keylen`-byte keys with its elements, split over messages. */
int nft_add_chain(struct nft_build *bd, const char *name, const char *type, uint32_t hook, int prio,
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
	nlh = nft_hdr(bd, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE, name);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nftnl_chain_free(ch);
	return nft_done(bd, e);
}

int nft_add_table(struct nft_build *bd, uint16_t type, uint16_t flags, mg_err *e)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return mg_err_set(e, "out of memory");
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = nft_hdr(bd, type, NFPROTO_INET, flags, "table inet " NFT_TABLE_NAME);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nft_done(bd, e);
}

/* ---- sending ------------------------------------------------------------------------ */

struct refusals {
	const struct nft_build *bd;
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
static int send_batch(struct nft_build *bd, mg_err *e)
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

int nft_batch_begin(struct nft_ctx *c, struct nft_build *bd, mg_err *e)
{
	memset(bd, 0, sizeof(*bd));
	bd->c = c;
	bd->b = nftnl_batch_alloc(BATCH_PAGE, MNL_SOCKET_BUFFER_SIZE);
	if (!bd->b)
		return mg_err_set(e, "out of memory");
	nftnl_batch_begin(nftnl_batch_buffer(bd->b), c->s.seq++);
	if (nft_done(bd, e) < 0)
		return -1;
	bd->first_seq = c->s.seq;
	return 0;
}

int nft_batch_end(struct nft_build *bd, mg_err *e)
{
	nftnl_batch_end(nftnl_batch_buffer(bd->b), bd->c->s.seq++);
	if (nft_done(bd, e) < 0)
		return -1;
	return send_batch(bd, e);
}
