/* SPDX-License-Identifier: MIT */
/* nftables: our ruleset (NAT, access control, MSS clamping) written in one batch. */
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

/* ---- the ruleset ------------------------------------------------------------------- */

static int nat_rules(struct nft_build *bd, const struct nft_spec *s, const struct nft_excl *ex,
		     mg_err *e)
{
	for (int v6 = 0; v6 < 2; v6++) {
		struct nftnl_rule *r = nft_rule_new(NFT_TABLE_NAME, NFPROTO_INET, "postrouting");
		bool ok = r && !nft_e_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, s->tun_if) &&
			  !nft_e_ifname(r, NFT_META_OIFNAME, NFT_CMP_NEQ, s->tun_if) &&
			  !nft_e_u8(r, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) &&
			  !nft_excl_match(r, &ex[v6], v6 ? AF_INET6 : AF_INET) &&
			  !nft_e_simple(r, "counter") && !nft_e_simple(r, "masq");
		if (nft_rule_commit(bd, r, ok, NLM_F_APPEND, "masquerade rule", e) < 0)
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
static int access_rules(struct nft_build *bd, const struct nft_spec *s, const char *chain,
			uint32_t full4, uint32_t full6, const struct ports_sets *ps, mg_err *e)
{
	struct nftnl_rule *r = nft_rule_new(NFT_TABLE_NAME, NFPROTO_INET, chain);
	bool ok = r && !nft_e_ct_established(r) && !nft_e_verdict(r, NF_ACCEPT);

	if (nft_rule_commit(bd, r, ok, NLM_F_APPEND, "established rule", e) < 0)
		return -1;
	for (int v6 = 0; v6 < 2; v6++) {
		r = nft_rule_new(NFT_TABLE_NAME, NFPROTO_INET, chain);
		ok = r && !nft_e_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, s->tun_if) &&
		     !nft_e_u8(r, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) &&
		     !nft_e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4) &&
		     !nft_e_lookup(r, v6 ? "full6" : "full4", v6 ? full6 : full4, false) &&
		     !nft_e_verdict(r, NF_ACCEPT);
		if (nft_rule_commit(bd, r, ok, NLM_F_APPEND, "full-access rule", e) < 0)
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
				r = nft_rule_new(NFT_TABLE_NAME, NFPROTO_INET, chain);
				ok = r &&
				     !nft_e_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, s->tun_if) &&
				     !nft_e_u8(r, NFT_META_NFPROTO,
					       v6 ? NFPROTO_IPV6 : NFPROTO_IPV4) &&
				     !nft_e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16,
						    v6 ? 16 : 4) &&
				     !nft_e_lookup(r, v6 ? p->n_a6 : p->n_a4, v6 ? p->a6 : p->a4,
						   false) &&
				     !nft_e_u8(r, NFT_META_L4PROTO,
					       udp ? IPPROTO_UDP : IPPROTO_TCP) &&
				     !nft_e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2) &&
				     !nft_e_lookup(r, udp ? p->n_udp : p->n_tcp,
						   udp ? p->udp : p->tcp, false) &&
				     !nft_e_verdict(r, NF_ACCEPT);
				if (nft_rule_commit(bd, r, ok, NLM_F_APPEND, "ports rule", e) < 0)
					return -1;
			}
		}
	}
	r = nft_rule_new(NFT_TABLE_NAME, NFPROTO_INET, chain);
	ok = r && !nft_e_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, s->tun_if) &&
	     !nft_e_simple(r, "counter") && !nft_e_verdict(r, NF_DROP);
	return nft_rule_commit(bd, r, ok, NLM_F_APPEND, "final drop rule", e);
}

static int build_ruleset(struct nft_ctx *c, struct nft_build *bd, const struct nft_spec *s,
			 const struct nft_chain_list *cl, unsigned flags, mg_err *e)
{
	/* egress without NAT: the LAN keeps seeing mesh addresses, everything else (the
	 * internet) is masqueraded: the LAN's subnets join the exclusions */
	size_t n_ex = s->n_exclude + (s->egress && !s->nat ? s->n_lan : 0);
	size_t nmax = n_ex + 2 * s->n_access + 2;
	struct cidr *ex = calloc(n_ex + 1, sizeof(*ex));
	struct nft_range *rs = calloc(nmax, sizeof(*rs)), *split = NULL;
	struct ports_sets *ps = calloc(s->n_access + 1, sizeof(*ps));
	uint32_t full4 = 0, full6 = 0;
	struct nft_excl exs[2];
	bool nat = s->nat || s->egress;
	int ret = -1;

	if (!rs || !ps || !ex)
		goto oom;
	if (s->n_exclude)
		memcpy(ex, s->exclude, s->n_exclude * sizeof(*ex));
	if (n_ex > s->n_exclude)
		memcpy(ex + s->n_exclude, s->lan, (n_ex - s->n_exclude) * sizeof(*ex));
	/* add (so the delete never fails), delete (wipes ours), create afresh */
	if (nft_add_table(bd, NFT_MSG_NEWTABLE, NLM_F_CREATE, e) < 0 ||
	    nft_add_table(bd, NFT_MSG_DELTABLE, 0, e) < 0 ||
	    nft_add_table(bd, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, e) < 0)
		goto out;

	if (nat && (nft_excl_sets(bd, AF_INET, ex, n_ex, &exs[0], e) < 0 ||
		    nft_excl_sets(bd, AF_INET6, ex, n_ex, &exs[1], e) < 0))
		goto out;
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
		if (nft_add_set(bd, v6 ? "full6" : "full4", v6 ? DT_IPV6_ADDR : DT_IPV4_ADDR,
				(uint32_t)nft_addr_len(fam), rs, k, v6 ? &full6 : &full4, e) < 0)
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
			if (nft_add_set(
				bd, v6 ? p->n_a6 : p->n_a4, v6 ? DT_IPV6_ADDR : DT_IPV4_ADDR,
				(uint32_t)nft_addr_len(fam), rs, k, v6 ? &p->a6 : &p->a4, e) < 0)
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
			size_t k =
			    nft_port_ranges(&s->access[a], udp ? IPPROTO_UDP : IPPROTO_TCP, pr);
			if (k == 0)
				continue;
			snprintf(udp ? p->n_udp : p->n_tcp, 24, "p%u_%s", (unsigned)a,
				 udp ? "udp" : "tcp");
			if (nft_add_set(bd, udp ? p->n_udp : p->n_tcp, DT_INET_SERVICE, 2, pr, k,
					udp ? &p->udp : &p->tcp, e) < 0)
				goto out;
			*(udp ? &p->has_udp : &p->has_tcp) = true;
		}
	}

	if (nat && (nft_add_chain(bd, "postrouting", "nat", NF_INET_POST_ROUTING, 100, e) < 0 ||
		    nat_rules(bd, s, exs, e) < 0))
		goto out;
	if (nft_add_chain(bd, "forward", "filter", NF_INET_FORWARD, 0, e) < 0 ||
	    access_rules(bd, s, "forward", full4, full6, ps, e) < 0 ||
	    nft_add_chain(bd, "input", "filter", NF_INET_LOCAL_IN, 0, e) < 0 ||
	    access_rules(bd, s, "input", full4, full6, ps, e) < 0)
		goto out;
	if (s->mss_clamp) {
		if (nft_add_chain(bd, "mssclamp", "filter", NF_INET_FORWARD, -150, e) < 0)
			goto out;
		for (int dir = 0; dir < 2; dir++) {
			struct nftnl_rule *r =
			    nft_rule_new(NFT_TABLE_NAME, NFPROTO_INET, "mssclamp");
			bool ok = r &&
				  !nft_e_ifname(r, dir ? NFT_META_OIFNAME : NFT_META_IIFNAME,
						NFT_CMP_EQ, s->tun_if) &&
				  !nft_e_mss_clamp(r);
			if (nft_rule_commit(bd, r, ok, NLM_F_APPEND, "MSS clamp rule", e) < 0)
				goto out;
		}
	}
	if (nft_open_foreign(c, bd, cl, "DOCKER-USER", s->tun_if, s->open_docker_user, e) < 0 ||
	    nft_open_foreign(c, bd, cl, "ufw-user-forward", s->tun_if, s->open_ufw, e) < 0)
		goto out;
	if (flags & NFT_APPLY_TEST_REJECT) {
		struct nftnl_rule *r = nft_rule_new(NFT_TABLE_NAME, NFPROTO_INET, "forward");
		bool ok = r && !nft_e_meta(r, NFT_META_L4PROTO) &&
			  !nft_e_lookup(r, "no_such_set", 0xdead, false);
		if (nft_rule_commit(bd, r, ok, NLM_F_APPEND, "test rule (no_such_set)", e) < 0)
			goto out;
	}
	ret = 0;
	goto out;
oom:
	mg_err_set(e, "out of memory");
out:
	free(ex);
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
	if (n)
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
	struct nft_chain_list cl;
	struct access_rule *extra;
	struct nft_spec sp, *s = &sp;
	struct nft_build bd;
	int r;

	if (egress_access(spec, &sp, &extra, e) < 0)
		return -1;

	if (nft_list_chains(c, &cl, e) < 0) {
		free(extra);
		return -1;
	}
	if (nft_batch_begin(c, &bd, e) < 0) {
		free(cl.v);
		free(extra);
		return -1;
	}
	r = build_ruleset(c, &bd, s, &cl, flags, e);
	if (r == 0)
		r = nft_batch_end(&bd, e);
	nftnl_batch_free(bd.b);
	free(cl.v);
	free(extra);
	return r;
}
