/* SPDX-License-Identifier: MIT */
/* nftables: reading chains: the coexistence scan, foreign opt-in rules, the monitor. */
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
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "buf.h"

/* ---- foreign chains (read-only, and the opt-in rules) ----------------------------- */

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_chain_list *l = data;
	struct nftnl_chain *ch = nftnl_chain_alloc();

	if (!ch)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, ch) < 0) {
		nftnl_chain_free(ch);
		return MNL_CB_OK;
	}
	if (mg_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), SIZE_MAX / 2, NULL) < 0) {
		l->oom = true;
		nftnl_chain_free(ch);
		return MNL_CB_ERROR;
	}
	struct nft_chain_info *ci = &l->v[l->n++];
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

int nft_list_chains(struct nft_ctx *c, struct nft_chain_list *l, mg_err *e)
{
	memset(l, 0, sizeof(*l));
	if (dump(c, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NULL, NULL, chain_cb, l, e) < 0 || l->oom) {
		free(l->v);
		l->v = NULL;
		return l->oom ? mg_err_set(e, "out of memory") : -1;
	}
	return 0;
}

static const struct nft_chain_info *find_chain(const struct nft_chain_list *l, uint32_t family,
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
	struct nftnl_rule *q = nft_rule_new("filter", NFPROTO_IPV4, chain);
	int r;

	memset(rh, 0, sizeof(*rh));
	if (!q)
		return mg_err_set(e, "out of memory");
	r = dump(c, NFT_MSG_GETRULE, NFPROTO_IPV4, q, rule_req_build, our_rule_cb, rh, e);
	nftnl_rule_free(q);
	return r;
}

static int del_rule(struct nft_build *bd, const char *chain, uint64_t handle, mg_err *e)
{
	struct nftnl_rule *r = nft_rule_new("filter", NFPROTO_IPV4, chain);
	struct nlmsghdr *nlh;

	if (!r)
		return mg_err_set(e, "out of memory");
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	nlh = nft_hdr(bd, NFT_MSG_DELRULE, NFPROTO_IPV4, 0, chain);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nft_done(bd, e);
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
int nft_open_foreign(struct nft_ctx *c, struct nft_build *bd, const struct nft_chain_list *cl,
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
		struct nftnl_rule *r = nft_rule_new("filter", NFPROTO_IPV4, chain);
		bool ok =
		    r && !set_comment(r) &&
		    !nft_e_ifname(r, dir ? NFT_META_OIFNAME : NFT_META_IIFNAME, NFT_CMP_EQ, tun) &&
		    (!dir || !nft_e_ct_established(r)) && !nft_e_verdict(r, NF_ACCEPT);
		/* no NLM_F_APPEND: before docker's or ufw's own rules */
		if (nft_rule_commit(bd, r, ok, 0, chain, e) < 0)
			return -1;
	}
	return 0;
}

int nft_table_present(struct nft_ctx *c, mg_err *e)
{
	struct nft_chain_list cl;
	int found = 0;

	if (nft_list_chains(c, &cl, e) < 0)
		return -1;
	for (size_t i = 0; i < cl.n; i++)
		if (cl.v[i].family == NFPROTO_INET && !strcmp(cl.v[i].table, NFT_TABLE_NAME))
			found = 1;
	free(cl.v);
	return found;
}

int nft_coexist_scan(struct nft_ctx *c, const char *tun, char w[][NFT_WARN_LEN], int max, mg_err *e)
{
	struct nft_chain_list cl;
	int n = 0;

	if (nft_list_chains(c, &cl, e) < 0)
		return -1;
	for (size_t i = 0; i < cl.n && n < max; i++) {
		const struct nft_chain_info *ci = &cl.v[i];
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

/* ---- the doctor's scan: drops on the forward and postrouting paths ------------------- */

enum rv { RV_NONE, RV_ACCEPT, RV_DROP, RV_REJECT, RV_JUMP };

struct rule_info {
	enum rv v;
	char target[64]; /* RV_JUMP: the chain */
	char iif[20], oif[20];
	bool matches, ct, mss;
	uint64_t handle;
};

struct rule_list {
	struct rule_info v[256];
	size_t n;
};

/* An interface name from a cmp's data: NUL inside = exact, none = prefix ("eth+"). */
static void ifname_of(const void *d, uint32_t len, char *out, size_t olen)
{
	const char *s = d;
	size_t k = 0;
	bool exact = false;

	for (uint32_t i = 0; i < len && i < IFNAMSIZ; i++) {
		if (!s[i]) {
			exact = true;
			break;
		}
		if (k + 2 < olen)
			out[k++] = s[i] >= 0x21 && s[i] < 0x7f ? s[i] : '?';
	}
	if (!exact && k + 1 < olen)
		out[k++] = '*';
	out[k] = '\0';
}

static void rule_parse(struct nftnl_rule *r, struct rule_info *ri)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *x;
	uint32_t reg_meta[32] = {0}; /* which meta key a register holds (0 none) */
	bool reg_ct[32] = {0};       /* the register holds conntrack data */

	memset(ri, 0, sizeof(*ri));
	ri->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	if (!it)
		return;
	while ((x = nftnl_expr_iter_next(it))) {
		const char *name = nftnl_expr_get_str(x, NFTNL_EXPR_NAME);
		if (!name)
			continue;
		if (!strcmp(name, "meta") && nftnl_expr_is_set(x, NFTNL_EXPR_META_DREG)) {
			uint32_t reg = nftnl_expr_get_u32(x, NFTNL_EXPR_META_DREG);
			if (reg < 32) {
				reg_meta[reg] = nftnl_expr_get_u32(x, NFTNL_EXPR_META_KEY) + 1;
				reg_ct[reg] = false;
			}
		} else if (!strcmp(name, "bitwise")) {
			uint32_t sr = nftnl_expr_get_u32(x, NFTNL_EXPR_BITWISE_SREG);
			uint32_t dr = nftnl_expr_get_u32(x, NFTNL_EXPR_BITWISE_DREG);
			if (sr < 32 && dr < 32) {
				reg_ct[dr] = reg_ct[sr];
				reg_meta[dr] = reg_meta[sr];
			}
			if (sr >= 32 || !reg_ct[sr])
				ri->matches = true;
		} else if (!strcmp(name, "cmp")) {
			uint32_t reg = nftnl_expr_get_u32(x, NFTNL_EXPR_CMP_SREG), len = 0;
			uint32_t key = reg < 32 ? reg_meta[reg] : 0;
			const void *d = nftnl_expr_get_data(x, NFTNL_EXPR_CMP_DATA, &len);
			bool eq = nftnl_expr_get_u32(x, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ;
			if (eq && d && key == NFT_META_IIFNAME + 1)
				ifname_of(d, len, ri->iif, sizeof(ri->iif));
			else if (eq && d && key == NFT_META_OIFNAME + 1)
				ifname_of(d, len, ri->oif, sizeof(ri->oif));
			else if (key != NFT_META_NFPROTO + 1 && !(reg < 32 && reg_ct[reg]))
				ri->matches = true; /* nfproto: how inet tables say "ip" */
		} else if (!strcmp(name, "ct")) {
			uint32_t reg = nftnl_expr_get_u32(x, NFTNL_EXPR_CT_DREG);
			ri->ct = true;
			if (nftnl_expr_is_set(x, NFTNL_EXPR_CT_DREG) && reg < 32) {
				reg_ct[reg] = true;
				reg_meta[reg] = 0;
			}
		} else if (!strcmp(name, "reject")) {
			ri->v = RV_REJECT;
		} else if (!strcmp(name, "rt") &&
			   nftnl_expr_get_u32(x, NFTNL_EXPR_RT_KEY) == NFT_RT_TCPMSS) {
			ri->mss = true;
		} else if (!strcmp(name, "immediate") &&
			   nftnl_expr_is_set(x, NFTNL_EXPR_IMM_VERDICT)) {
			int v = (int)nftnl_expr_get_u32(x, NFTNL_EXPR_IMM_VERDICT);
			if (v == NF_DROP)
				ri->v = RV_DROP;
			else if (v == NF_ACCEPT)
				ri->v = RV_ACCEPT;
			else if ((v == NFT_JUMP || v == NFT_GOTO) &&
				 nftnl_expr_is_set(x, NFTNL_EXPR_IMM_CHAIN)) {
				ri->v = RV_JUMP;
				snprintf(ri->target, sizeof(ri->target), "%s",
					 nftnl_expr_get_str(x, NFTNL_EXPR_IMM_CHAIN));
			}
		} else if (strcmp(name, "counter") && strcmp(name, "log") &&
			   strcmp(name, "match") && strcmp(name, "target")) {
			ri->matches = true; /* payload, lookup, bitwise...: a condition */
		}
	}
	nftnl_expr_iter_destroy(it);
}

static int fw_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_list *l = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 && l->n < MG_ARRAY_SIZE(l->v))
		rule_parse(r, &l->v[l->n++]);
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int chain_rules(struct nft_ctx *c, uint32_t family, const char *table, const char *chain,
		       struct rule_list *l, mg_err *e)
{
	struct nftnl_rule *q = nft_rule_new(table, (uint16_t)family, chain);
	int r;

	l->n = 0;
	if (!q)
		return mg_err_set(e, "out of memory");
	r = dump(c, NFT_MSG_GETRULE, (uint16_t)family, q, rule_req_build, fw_rule_cb, l, e);
	nftnl_rule_free(q);
	return r;
}

static bool if_match(const char *pat, const char *name)
{
	size_t n = strlen(pat);
	if (n && pat[n - 1] == '*')
		return !strncmp(pat, name, n - 1);
	return !strcmp(pat, name);
}

struct fw_walk {
	struct nft_ctx *c;
	const char *tun;
	const struct nft_chain_info *base;
	const char *owner;
	struct nft_fw_hit *out;
	size_t max, *n;
	bool tun_accepted;
	size_t first; /* the base chain's first hit */
	int visited;
};

static int walk(struct fw_walk *w, const char *chain, int depth, mg_err *e)
{
	struct rule_list *l;

	if (depth > 4 || ++w->visited > 64)
		return 0;
	l = malloc(sizeof(*l));
	if (!l)
		return mg_err_set(e, "out of memory");
	if (chain_rules(w->c, w->base->family, w->base->table, chain, l, e) < 0) {
		free(l);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct rule_info *ri = &l->v[i];
		if (ri->v == RV_ACCEPT && ri->iif[0] && if_match(ri->iif, w->tun) &&
		    !w->tun_accepted)
			w->tun_accepted = true;
		if (ri->v == RV_JUMP && strcmp(ri->target, chain) &&
		    walk(w, ri->target, depth + 1, e) < 0) {
			free(l);
			return -1;
		}
		if ((ri->v != RV_DROP && ri->v != RV_REJECT) || (ri->ct && !ri->matches) ||
		    *w->n >= w->max)
			continue;
		struct nft_fw_hit *h = &w->out[(*w->n)++];
		memset(h, 0, sizeof(*h));
		h->kind = ri->v == RV_DROP ? NFT_FW_RULE_DROP : NFT_FW_RULE_REJECT;
		h->family = w->base->family;
		h->hook = w->base->hook;
		snprintf(h->table, sizeof(h->table), "%s", w->base->table);
		snprintf(h->chain, sizeof(h->chain), "%s", chain);
		snprintf(h->base, sizeof(h->base), "%s", w->base->name);
		h->handle = ri->handle;
		snprintf(h->iif, sizeof(h->iif), "%s", ri->iif);
		snprintf(h->oif, sizeof(h->oif), "%s", ri->oif);
		h->matches = ri->matches || ri->ct;
		h->tun_accepted = w->tun_accepted;
		h->owner = w->owner;
	}
	free(l);
	return 0;
}

int nft_fw_scan(struct nft_ctx *c, const char *tun, struct nft_fw_hit *out, size_t max, size_t *n,
		mg_err *e)
{
	struct nft_chain_list cl;
	int r = 0;

	*n = 0;
	if (nft_list_chains(c, &cl, e) < 0)
		return -1;
	for (size_t i = 0; i < cl.n && r == 0; i++) {
		const struct nft_chain_info *ci = &cl.v[i];
		if (!ci->base ||
		    (ci->hook != NF_INET_FORWARD && ci->hook != NF_INET_POST_ROUTING) ||
		    (ci->family != NFPROTO_IPV4 && ci->family != NFPROTO_IPV6 &&
		     ci->family != NFPROTO_INET) ||
		    (ci->family == NFPROTO_INET && !strcmp(ci->table, NFT_TABLE_NAME)))
			continue;
		struct fw_walk w = {.c = c, .tun = tun, .base = ci, .out = out, .max = max, .n = n};
		w.owner = find_chain(&cl, ci->family, ci->table, "DOCKER-USER") ? "docker"
			  : find_chain(&cl, ci->family, ci->table, "ufw-user-forward") ||
				  find_chain(&cl, ci->family, ci->table, "ufw6-user-forward")
			      ? "ufw"
			  : !strcmp(ci->table, "firewalld") ? "firewalld"
							    : "";
		w.first = *n;
		r = walk(&w, ci->name, 0, e);
		if (r == 0 && ci->policy == NF_DROP && *n < max) {
			struct nft_fw_hit *h = &out[(*n)++];
			memset(h, 0, sizeof(*h));
			h->kind = NFT_FW_POLICY_DROP;
			h->family = ci->family;
			h->hook = ci->hook;
			snprintf(h->table, sizeof(h->table), "%s", ci->table);
			snprintf(h->chain, sizeof(h->chain), "%s", ci->name);
			snprintf(h->base, sizeof(h->base), "%s", ci->name);
			h->owner = w.owner;
		}
		/* an accept for the tunnel anywhere on the path covers the base chain's drops */
		for (size_t k = w.first; r == 0 && k < *n; k++)
			out[k].tun_accepted = w.tun_accepted;
	}
	free(cl.v);
	return r;
}

int nft_mss_clamp_present(struct nft_ctx *c, mg_err *e)
{
	struct nft_chain_list cl;
	struct rule_list *l = malloc(sizeof(*l));
	int found = 0;

	if (!l)
		return mg_err_set(e, "out of memory");
	if (nft_list_chains(c, &cl, e) < 0) {
		free(l);
		return -1;
	}
	for (size_t i = 0; i < cl.n && !found; i++) {
		if (cl.v[i].family != NFPROTO_INET || strcmp(cl.v[i].table, NFT_TABLE_NAME))
			continue;
		if (chain_rules(c, NFPROTO_INET, NFT_TABLE_NAME, cl.v[i].name, l, e) < 0) {
			found = -1;
			break;
		}
		for (size_t k = 0; k < l->n; k++)
			found |= l->v[k].mss;
	}
	free(cl.v);
	free(l);
	return found;
}
