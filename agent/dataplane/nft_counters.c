/* SPDX-License-Identifier: MIT */
/*
 * The counters of our table's rules, for the metrics: packets and bytes masqueraded
 * (the NAT rules) and dropped by the access policy (the final drop rule of the forward
 * and input chains). They restart from zero when the table is rebuilt (a changed
 * firewall config), which Prometheus reads as a counter reset.
 */
#include "nft_priv.h"

#include <errno.h>
#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>

struct ctr_walk {
	bool counter, masq, drop;
	uint64_t pk, by;
};

static int expr_cb(struct nftnl_expr *x, void *data)
{
	struct ctr_walk *w = data;
	const char *name = nftnl_expr_get_str(x, NFTNL_EXPR_NAME);

	if (!name)
		return MNL_CB_OK;
	if (!strcmp(name, "counter")) {
		w->counter = true;
		w->pk = nftnl_expr_get_u64(x, NFTNL_EXPR_CTR_PACKETS);
		w->by = nftnl_expr_get_u64(x, NFTNL_EXPR_CTR_BYTES);
	} else if (!strcmp(name, "masq")) {
		w->masq = true;
	} else if (!strcmp(name, "immediate") && nftnl_expr_is_set(x, NFTNL_EXPR_IMM_VERDICT) &&
		   (int)nftnl_expr_get_u32(x, NFTNL_EXPR_IMM_VERDICT) == NF_DROP) {
		w->drop = true;
	}
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_counters *c = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct ctr_walk w = {0};

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    !strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), NFT_TABLE_NAME)) {
		nftnl_expr_foreach(r, expr_cb, &w);
		const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
		if (w.counter && w.masq) {
			c->nat_packets += w.pk;
			c->nat_bytes += w.by;
		} else if (w.counter && w.drop && chain) {
			bool input = !strcmp(chain, "input");
			c->drop_packets[input] += w.pk;
			c->drop_bytes[input] += w.by;
		}
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int nft_counters_read(struct nft_ctx *c, struct nft_counters *out, mg_err *e)
{
	char req[8192], xa[NL_EXTACK_LEN];
	struct nlmsghdr *nlh =
	    nftnl_nlmsg_build_hdr(req, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, c->s.seq++);
	struct nftnl_rule *q = nftnl_rule_alloc();

	memset(out, 0, sizeof(*out));
	if (!q)
		return mg_err_set(e, "out of memory");
	nftnl_rule_set_str(q, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
	nftnl_rule_set_u32(q, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_nlmsg_build_payload(nlh, q);
	nftnl_rule_free(q);
	if (nl_talk(&c->s, nlh, rule_cb, out, xa, sizeof(xa)) < 0) {
		if (errno == ENOENT)
			return 0; /* no table: nothing counted */
		return mg_err_set(e, "nftables counters: %s%s", strerror(errno), xa);
	}
	out->present = true;
	return 0;
}
