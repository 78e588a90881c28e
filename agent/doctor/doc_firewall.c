/* SPDX-License-Identifier: MIT */
/*
 * meshgate doctor, the firewall: every other nftables table (iptables-nft's included)
 * whose forward or postrouting path drops or rejects mesh traffic (docker's FORWARD
 * policy, ufw, firewalld, anyone's drop rule), iptables-legacy tables we cannot read,
 * and our own table inet meshgate. --fix rebuilds only our table.
 */
#include "doc.h"

#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "nft.h"

#define DOC_FW_MAX 64

static const char *fam_name(uint32_t f)
{
	return f == NFPROTO_IPV4 ? "ip" : f == NFPROTO_IPV6 ? "ip6" : "inet";
}

static bool if_is(const char *pat, const char *name)
{
	size_t n = strlen(pat);
	if (n && pat[n - 1] == '*')
		return !strncmp(pat, name, n - 1);
	return !strcmp(pat, name);
}

/* Could packets between the tunnel and the LAN meet this rule? */
static bool relevant_if(const struct doc_ctx *c, const char *pat)
{
	if (!pat[0] || if_is(pat, c->ifname))
		return true;
	for (size_t i = 0; i < c->n_lan; i++)
		if (if_is(pat, c->lan[i]))
			return true;
	return false;
}

static void owner_fix(const struct doc_ctx *c, struct doc_finding *f, const struct nft_fw_hit *h)
{
	const char *t = c->ifname;

	if (!strcmp(h->owner, "docker"))
		doc_fix(
		    f,
		    "run the agent with --open-docker-user (it adds `iifname %s accept` and "
		    "the established return to DOCKER-USER, marked \"meshgate\"), or do it "
		    "yourself: iptables -I DOCKER-USER -i %s -j ACCEPT; iptables -I DOCKER-USER "
		    "-o %s -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		    t, t, t);
	else if (!strcmp(h->owner, "ufw"))
		doc_fix(f,
			"ufw route allow in on %s; ufw route allow out on %s (or run the agent "
			"with --open-ufw)",
			t, t);
	else if (!strcmp(h->owner, "firewalld"))
		doc_fix(f,
			"firewall-cmd --permanent --zone=trusted --add-interface=%s && "
			"firewall-cmd --reload",
			t);
	else if (h->kind == NFT_FW_POLICY_DROP)
		doc_fix(f,
			"accept the mesh in that chain before its policy applies: nft insert rule "
			"%s %s %s iifname %s accept; nft insert rule %s %s %s oifname %s ct state "
			"established,related accept (meshgate never edits other tables)",
			fam_name(h->family), h->table, h->chain, t, fam_name(h->family), h->table,
			h->chain, t);
	else
		doc_fix(
		    f,
		    "see it with `nft -a list chain %s %s %s` (handle %llu); narrow it, or accept "
		    "the mesh before it: nft insert rule %s %s %s iifname %s accept (meshgate "
		    "never edits other tables)",
		    fam_name(h->family), h->table, h->chain, (unsigned long long)h->handle,
		    fam_name(h->family), h->table, h->base, t);
}

static void report_hit(struct doc_ctx *c, const struct nft_fw_hit *h)
{
	const char *hook = h->hook == NF_INET_FORWARD ? "forward" : "postrouting";
	const char *who = h->owner[0] ? h->owner : "";
	struct doc_finding *f;

	if (h->kind == NFT_FW_POLICY_DROP) {
		if (h->tun_accepted) {
			doc_add(c->r, DOC_OK, "firewall", "foreign-policy",
				"%s %s %s drops %s traffic by policy, but accepts packets in on %s",
				fam_name(h->family), h->table, h->chain, hook, c->ifname);
			return;
		}
		f = doc_add(c->r, DOC_FAIL, "firewall", "foreign-policy",
			    "%s %s %s (%s hook%s%s) has policy drop and no accept for %s",
			    fam_name(h->family), h->table, h->chain, hook, who[0] ? ", " : "", who,
			    c->ifname);
		doc_why(
		    f, "every base chain on a hook must accept a packet for it to pass: meshgate's "
		       "accept in its own table does not override another table's drop, so "
		       "forwarded mesh traffic dies here");
		owner_fix(c, f, h);
		return;
	}
	if (!relevant_if(c, h->iif) || !relevant_if(c, h->oif) || h->tun_accepted)
		return;
	f = doc_add(c->r, h->matches ? DOC_WARN : DOC_FAIL, "firewall", "foreign-rule",
		    "%s %s %s: rule handle %llu %s%s%s%s%s%s (%s hook%s%s)", fam_name(h->family),
		    h->table, h->chain, (unsigned long long)h->handle,
		    h->kind == NFT_FW_RULE_DROP ? "drops" : "rejects", h->iif[0] ? " in on " : "",
		    h->iif, h->oif[0] ? " out on " : "", h->oif,
		    h->matches ? " some packets" : " everything", hook,
		    strcmp(h->chain, h->base) ? ", reached from " : "",
		    strcmp(h->chain, h->base) ? h->base : "");
	doc_why(f,
		h->matches ? "it may match mesh traffic between %s and the LAN; nothing in "
			     "that chain accepts the tunnel before it"
			   : "it matches all traffic between %s and the LAN, which never "
			     "reaches the LAN hosts (or never comes back)",
		c->ifname);
	owner_fix(c, f, h);
}

/* iptables-legacy keeps its rules outside nftables: we can only see that it is in use. */
static void check_legacy(struct doc_ctx *c)
{
	static const char *files[] = {"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"};

	for (size_t i = 0; i < MG_ARRAY_SIZE(files); i++) {
		char *buf = NULL;
		size_t len = 0;
		if (fs_read_bounded(files[i], 4096, &buf, &len, NULL) < 0)
			continue;
		if (len && strstr(buf, "filter")) {
			struct doc_finding *f =
			    doc_add(c->r, DOC_WARN, "firewall", "iptables-legacy",
				    "iptables-legacy filter tables are loaded (%s)", files[i]);
			doc_why(f, "rules there are outside nftables, where this check cannot read "
				   "them; a FORWARD policy DROP there drops the mesh all the same");
			doc_fix(f,
				"check `iptables-legacy -S FORWARD` (and ip6tables-legacy): if it "
				"drops, add -I FORWARD -i %s -j ACCEPT and -I FORWARD -o %s -m "
				"conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT, or move to "
				"iptables-nft",
				c->ifname, c->ifname);
		}
		free(buf);
	}
}

void doc_check_firewall(struct doc_ctx *c)
{
	struct nft_fw_hit *hits = calloc(DOC_FW_MAX, sizeof(*hits));
	struct nft_ctx *n = NULL;
	size_t nh = 0, before = c->r->n;
	mg_err e = {""};
	int present;

	if (!hits || nft_open(&n, &e) < 0) {
		doc_add(c->r, DOC_SKIP, "firewall", "nftables", "cannot read nftables: %s",
			hits ? e.msg : "out of memory");
		free(hits);
		return;
	}
	if (nft_fw_scan(n, c->ifname, hits, DOC_FW_MAX, &nh, &e) < 0) {
		doc_add(c->r, DOC_SKIP, "firewall", "nftables", "nftables scan failed: %s", e.msg);
	} else {
		for (size_t i = 0; i < nh; i++)
			report_hit(c, &hits[i]);
		bool bad = false;
		for (size_t i = before; i < c->r->n; i++)
			bad |= c->r->v[i].sev >= DOC_WARN;
		if (!bad)
			doc_add(c->r, DOC_OK, "firewall", "foreign",
				"no other nftables table drops forwarded mesh traffic");
		if (nh == DOC_FW_MAX)
			doc_add(c->r, DOC_WARN, "firewall", "foreign",
				"more than %d drops found: only the first are listed", DOC_FW_MAX);
	}
	check_legacy(c);
	present = nft_table_present(n, &e);
	if (present < 0) {
		doc_add(c->r, DOC_SKIP, "firewall", "table", "cannot list tables: %s", e.msg);
	} else if (present) {
		doc_add(c->r, DOC_OK, "firewall", "table", "table inet %s is in place",
			NFT_TABLE_NAME);
	} else if (c->agent_running && c->have_config) {
		struct doc_finding *f =
		    doc_add(c->r, DOC_FAIL, "firewall", "table",
			    "table inet %s is missing while the agent runs", NFT_TABLE_NAME);
		doc_why(f,
			"without it there is no NAT, no access control and no MSS clamping "
			"for the mesh; the agent restores it when it notices, so something keeps "
			"removing it (a firewall reload flushing the whole ruleset?)");
		doc_fix(f, "find what runs `nft flush ruleset` (firewall services, scripts) and "
			   "make it flush only its own tables; the agent puts ours back");
		f->fixable = DOC_FIX_NFT;
	} else {
		doc_add(c->r, DOC_SKIP, "firewall", "table",
			"table inet %s is not there (the agent is not running)", NFT_TABLE_NAME);
	}
	nft_close(n);
	free(hits);
}

int doc_fix_nft(struct doc_ctx *c, mg_err *e)
{
	struct nft_ctx *n = NULL;
	struct nft_spec s = {0};
	int r;

	if (!c->have_config)
		return mg_err_set(e, "no applied config to rebuild table inet %s from",
				  NFT_TABLE_NAME);
	s.nat = c->cfg.nat.enabled;
	s.exclude = c->cfg.nat.exclude;
	s.n_exclude = c->cfg.nat.n_exclude;
	s.egress = c->cfg.egress;
	s.lan = c->cfg.advertised;
	s.n_lan = c->cfg.n_advertised;
	s.access = c->cfg.access;
	s.n_access = c->cfg.n_access;
	s.mss_clamp = !c->o->no_mss_clamp;
	s.open_docker_user = c->o->open_docker_user;
	s.open_ufw = c->o->open_ufw;
	snprintf(s.tun_if, sizeof(s.tun_if), "%s", c->ifname);
	if (nft_open(&n, e) < 0)
		return -1;
	r = nft_apply(n, &s, 0, e);
	nft_close(n);
	if (r == 0)
		fprintf(stderr,
			"meshgate doctor --fix: table inet %s rebuilt from config version "
			"%lld\n",
			NFT_TABLE_NAME, (long long)c->cfg.version);
	return r;
}
