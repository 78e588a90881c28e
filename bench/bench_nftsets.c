/* SPDX-License-Identifier: MIT */
/*
 * bench_nftsets: what nf_tables offers for loading N NAT exclusions (issue 18: 10,000 in
 * ≤20 ms), each way loaded ROUNDS times into a fresh `table inet meshgate` (median and
 * min of the wall time, and of the system CPU time: the kernel's share), for three sets
 * of exclusions:
 *   prefixes  N /24s, every other one (as bench_nft.sh: nothing merges)
 *   mixed     N/2 such /24s and N/2 single hosts (/32, none adjacent)
 *   hosts     N single hosts
 * The ways:
 *   rbtree            one interval set (NFT_SET_INTERVAL: the kernel picks its rbtree),
 *                     start and end+1 elements, ascending, one batch (the agent before)
 *   rbtree+size       the same with the set's size declared (NFTA_SET_DESC_SIZE)
 *   rbtree,4 batches  the set in one batch, its elements in 4 more (not atomic)
 *   rbtree,desc       the elements descending (bench_nftorder has the rest)
 *   pipapo            an interval set whose key is the address concatenated with a
 *                     second field covered in full (NFT_SET_CONCAT, two fields: the
 *                     kernel picks pipapo, which has no single-field form); one element
 *                     per range (key, key end)
 *   split             hosts in a hash set (no interval flag), prefixes in the rbtree set
 *   split+size        the same, both sizes declared (a fixed-size hash)
 *   by length         one hash set per prefix length holding network addresses (the
 *                     rule masks the address and looks each up), without and with size
 *   the agent now     nft_excl_sets: the exclusions cut into prefixes, a hash set (size
 *                     declared) per length with 32 or more, the rest in the interval set
 * Times cover building the batch and the kernel's answer (the agent's time includes
 * its merging and cutting of the exclusions).
 * Run in a network namespace of its own (nothing else is touched):
 *   sudo unshare -n build/bench/bench_nftsets [N] [ROUNDS]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "nft.h"
#include "nft_priv.h"

struct pfx {
	uint8_t a[4];
	int len;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double sys_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* lo and hi of a prefix, as host-order integers */
static uint32_t p_lo(const struct pfx *p)
{
	uint32_t v;
	memcpy(&v, p->a, 4);
	return ntohl(v);
}

static uint32_t p_hi(const struct pfx *p)
{
	return p_lo(p) | (p->len == 32 ? 0 : (0xffffffffu >> p->len));
}

static void put32(uint8_t *b, uint32_t v)
{
	v = htonl(v);
	memcpy(b, &v, 4);
}

enum kind { K_PAIRS, K_PIPAPO, K_HASH, K_MASKED };

struct setspec {
	const char *name;
	enum kind kind;
	const struct pfx *v; /* sorted ascending */
	size_t n;
	bool size_hint, descending;
};

static struct nftnl_set *set_new(const struct setspec *ss)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, ss->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	return s;
}

static int add_elem(struct nftnl_set *s, const uint8_t *key, uint32_t klen, const uint8_t *end,
		    uint32_t flags)
{
	struct nftnl_set_elem *el = nftnl_set_elem_alloc();

	if (!el)
		return -1;
	nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key, klen);
	if (end)
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY_END, end, klen);
	if (flags)
		nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, flags);
	nftnl_set_elem_add(s, el);
	return 0;
}

/* The elements of v[from..to) into s, in the set's form. */
static int fill(struct nftnl_set *s, const struct setspec *ss, size_t from, size_t to)
{
	uint8_t k[8] = {0}, end[8] = {0};

	for (size_t j = from; j < to; j++) {
		const struct pfx *p = &ss->v[ss->descending ? ss->n - 1 - j : j];
		switch (ss->kind) {
		case K_PAIRS:
			if (j == 0 && !ss->descending && p_lo(p) != 0) {
				put32(k, 0);
				if (add_elem(s, k, 4, NULL, NFT_SET_ELEM_INTERVAL_END) < 0)
					return -1;
			}
			put32(k, p_lo(p));
			if (add_elem(s, k, 4, NULL, 0) < 0)
				return -1;
			put32(k, p_hi(p) + 1);
			if (add_elem(s, k, 4, NULL, NFT_SET_ELEM_INTERVAL_END) < 0)
				return -1;
			break;
		case K_PIPAPO: /* address . a second field (1 byte in a 4-byte register) 0-255 */
			put32(k, p_lo(p));
			put32(end, p_hi(p));
			k[4] = 0;
			end[4] = 0xff;
			if (add_elem(s, k, 8, end, 0) < 0)
				return -1;
			break;
		case K_HASH:
		case K_MASKED:
			put32(k, p_lo(p));
			if (add_elem(s, k, 4, NULL, 0) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

static int send_elems(struct nft_build *bd, struct nftnl_set *s, const char *name, mg_err *e)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	int more;

	if (!it)
		return mg_err_set(e, "out of memory");
	do {
		struct nlmsghdr *nlh =
		    nft_hdr(bd, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE, name);
		more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
		if (more < 0 || nft_done(bd, e) < 0) {
			nftnl_set_elems_iter_destroy(it);
			return more < 0 ? mg_err_set(e, "cannot encode elements") : -1;
		}
	} while (more > 0);
	nftnl_set_elems_iter_destroy(it);
	return 0;
}

/* The set itself, and (chunks == 0) its elements in the same batch. */
static int add_set(struct nft_build *bd, const struct setspec *ss, bool with_elems, mg_err *e)
{
	struct nftnl_set *s = set_new(ss);
	struct nlmsghdr *nlh;
	uint32_t flags = 0, klen = 4;
	int rc = -1;

	if (!s)
		return mg_err_set(e, "out of memory");
	nftnl_set_set_u32(s, NFTNL_SET_ID, ++bd->set_id);
	if (ss->kind == K_PAIRS)
		flags = NFT_SET_INTERVAL;
	if (ss->kind == K_PIPAPO) {
		uint8_t fl[2] = {4, 1};
		flags = NFT_SET_INTERVAL | NFT_SET_CONCAT;
		klen = 8;
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fl, sizeof(fl));
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ss->kind == K_PIPAPO ? (7u << 6) | 12 : 7);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, klen);
	if (ss->size_hint)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE,
				  (uint32_t)(ss->kind == K_PAIRS ? 2 * ss->n + 1 : ss->n));
	nlh = nft_hdr(bd, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, ss->name);
	nftnl_set_nlmsg_build_payload(nlh, s);
	if (nft_done(bd, e) < 0)
		goto out;
	if (with_elems && ss->n) {
		nftnl_set_free(s);
		s = set_new(ss);
		if (!s || fill(s, ss, 0, ss->n) < 0 || send_elems(bd, s, ss->name, e) < 0) {
			if (!e->msg[0])
				mg_err_set(e, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	if (s)
		nftnl_set_free(s);
	return rc;
}

struct way {
	const char *name;
	enum kind prefixes, hosts; /* how each part is held; K_PAIRS for both: one set */
	bool one_set, size_hint, descending;
	int batches; /* elements in this many batches after the set's own (0: one batch) */
	bool agent;  /* the agent's own builder (nft_excl_sets), from the exclusions */
};

/* The agent's way, from the exclusions as the config lists them. */
static int agent_sets(struct nft_build *bd, const struct pfx *v, size_t n, mg_err *e)
{
	struct cidr *c = calloc(n, sizeof(*c));
	struct nft_excl x;
	int rc;

	if (!c)
		return mg_err_set(e, "out of memory");
	for (size_t i = 0; i < n; i++) {
		c[i].family = AF_INET;
		c[i].len = (uint8_t)v[i].len;
		memcpy(c[i].addr, v[i].a, 4);
	}
	rc = nft_excl_sets(bd, AF_INET, c, n, &x, e);
	free(c);
	return rc;
}

/* Split v into hosts and prefixes (both keep their order). */
static void split(const struct pfx *v, size_t n, struct pfx *h, size_t *nh, struct pfx *p,
		  size_t *np)
{
	*nh = *np = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].len == 32)
			h[(*nh)++] = v[i];
		else
			p[(*np)++] = v[i];
	}
}

/* Prefix lengths present in v, longest first; returns how many. */
static int lengths(const struct pfx *v, size_t n, int out[33])
{
	bool seen[33] = {0};
	int k = 0;

	for (size_t i = 0; i < n; i++)
		seen[v[i].len] = true;
	for (int l = 32; l >= 0; l--)
		if (seen[l])
			out[k++] = l;
	return k;
}

static double load(struct nft_ctx *c, const struct way *w, const struct pfx *v, size_t n,
		   struct pfx *h, struct pfx *p, struct pfx *tmp, double *sys)
{
	struct nft_build bd = {0};
	mg_err e = {{0}};
	struct setspec sets[34];
	size_t nh, np, ns = 0;
	double t0, s0;

	nft_remove(c, &e); /* a previous round's table */
	memset(&e, 0, sizeof(e));
	usleep(20000); /* let the kernel free it (RCU) outside the timing */
	if (w->one_set) {
		sets[ns++] =
		    (struct setspec){"nat_ex4", w->prefixes, v, n, w->size_hint, w->descending};
	} else if (w->prefixes == K_MASKED) {
		int ls[33], nl = lengths(v, n, ls);
		for (int i = 0; i < nl; i++) {
			size_t k = 0;
			for (size_t j = 0; j < n; j++)
				if (v[j].len == ls[i])
					tmp[k++] = v[j];
			/* each length's own slice of tmp */
			struct pfx *slice = tmp + n * 0;
			(void)slice;
			static char names[33][16];
			snprintf(names[i], sizeof(names[i]), "nat_ex4_%d", ls[i]);
			struct pfx *own = malloc(k * sizeof(*own) + 1);
			if (!own)
				return -1;
			memcpy(own, tmp, k * sizeof(*own));
			sets[ns++] =
			    (struct setspec){names[i], K_MASKED, own, k, w->size_hint, false};
		}
	} else {
		split(v, n, h, &nh, p, &np);
		sets[ns++] = (struct setspec){"nat_ex4", K_PAIRS, p, np, w->size_hint, false};
		sets[ns++] = (struct setspec){"nat_ex4h", K_HASH, h, nh, w->size_hint, false};
	}
	s0 = sys_ms();
	t0 = now_ms();
	if (nft_batch_begin(c, &bd, &e) < 0 ||
	    nft_add_table(&bd, NFT_MSG_NEWTABLE, NLM_F_CREATE, &e) < 0)
		goto fail;
	if (w->agent)
		ns = 0;
	if (w->agent && agent_sets(&bd, v, n, &e) < 0)
		goto fail;
	for (size_t i = 0; i < ns; i++)
		if (add_set(&bd, &sets[i], w->batches == 0, &e) < 0)
			goto fail;
	if (nft_batch_end(&bd, &e) < 0)
		goto fail;
	for (int b = 0; b < w->batches; b++) {
		for (size_t i = 0; i < ns; i++) {
			const struct setspec *ss = &sets[i];
			size_t from = ss->n * (size_t)b / (size_t)w->batches,
			       to = ss->n * (size_t)(b + 1) / (size_t)w->batches;
			struct nftnl_set *s = set_new(ss);
			memset(&bd, 0, sizeof(bd));
			if (!s || nft_batch_begin(c, &bd, &e) < 0 || fill(s, ss, from, to) < 0 ||
			    send_elems(&bd, s, ss->name, &e) < 0 || nft_batch_end(&bd, &e) < 0) {
				if (s)
					nftnl_set_free(s);
				goto fail;
			}
			nftnl_set_free(s);
		}
	}
	*sys = sys_ms() - s0;
	t0 = now_ms() - t0;
	for (size_t i = 0; i < ns; i++)
		if (sets[i].kind == K_MASKED)
			free((void *)sets[i].v);
	return t0;
fail:
	fprintf(stderr, "bench_nftsets: %s: %s\n", w->name, e.msg[0] ? e.msg : "error");
	return -1;
}

static int pfx_cmp(const void *a, const void *b)
{
	uint32_t x = p_lo(a), y = p_lo(b);
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	static const struct way ways[] = {
	    {"rbtree (the agent before)", K_PAIRS, K_PAIRS, true, false, false, 0},
	    {"rbtree + size", K_PAIRS, K_PAIRS, true, true, false, 0},
	    {"rbtree, 4 batches", K_PAIRS, K_PAIRS, true, false, false, 4},
	    {"rbtree, descending", K_PAIRS, K_PAIRS, true, false, true, 0},
	    {"pipapo (addr . 0-255)", K_PIPAPO, K_PIPAPO, true, false, false, 0},
	    {"split: hosts hash + rbtree", K_PAIRS, K_HASH, false, false, false, 0},
	    {"split + sizes", K_PAIRS, K_HASH, false, true, false, 0},
	    {"hash per prefix length", K_MASKED, K_MASKED, false, false, false, 0},
	    {"hash per prefix length + size", K_MASKED, K_MASKED, false, true, false, 0},
	    {"the agent now (nft_excl_sets)", K_PAIRS, K_PAIRS, false, false, false, 0, true},
	};
	static const char *const loads[] = {"prefixes", "mixed", "hosts"};
	struct pfx *v = calloc(n, sizeof(*v)), *h = calloc(n, sizeof(*h)),
		   *p = calloc(n, sizeof(*p)), *tmp = calloc(n, sizeof(*tmp));
	double *t = calloc((size_t)rounds, sizeof(*t)), *ts = calloc((size_t)rounds, sizeof(*ts));
	struct nft_ctx *c = NULL;
	mg_err e = {{0}};

	if (!v || !h || !p || !tmp || !t || !ts || rounds < 1 || n < 2 || n > 60000)
		return 2;
	if (nft_open(&c, &e) < 0) {
		fprintf(stderr, "bench_nftsets: %s\n", e.msg);
		return 1;
	}
	printf("bench_nftsets: %zu IPv4 exclusions, %d loads each, ms (wall median / min, "
	       "system CPU median)\n",
	       n, rounds);
	printf("%-32s", "");
	for (int l = 0; l < 3; l++)
		printf(" %26s", loads[l]);
	printf("\n");
	/* a first load outside the figures: the kernel's modules and caches warm */
	for (size_t i = 0; i < n; i++)
		v[i] = (struct pfx){{10, (uint8_t)(20 + i / 128), (uint8_t)(i % 128 * 2), 0}, 24};
	if (load(c, &ways[0], v, n, h, p, tmp, &ts[0]) < 0)
		return 1;
	/* rounds interleave the ways (round k loads every way once), so that the machine's
	 * other load falls on all of them alike */
	enum { NW = MG_ARRAY_SIZE(ways) };
	double *tw = calloc((size_t)rounds * NW * 3, sizeof(*tw)),
	       *sw = calloc((size_t)rounds * NW * 3, sizeof(*sw));
	if (!tw || !sw)
		return 2;
	for (int l = 0; l < 3; l++) {
		size_t np = l == 0 ? n : l == 1 ? n / 2 : 0;
		for (size_t i = 0; i < n; i++) {
			if (i < np) { /* every other /24 from 10.20.0.0 */
				v[i] = (struct pfx){
				    {10, (uint8_t)(20 + i / 128), (uint8_t)(i % 128 * 2), 0}, 24};
			} else { /* every other host from 10.200.0.1 */
				size_t k = i - np;
				v[i] = (struct pfx){{10, (uint8_t)(200 + k / 32768),
						     (uint8_t)(k / 128 % 256),
						     (uint8_t)(k % 128 * 2 + 1)},
						    32};
			}
		}
		qsort(v, n, sizeof(*v), pfx_cmp);
		for (int k = 0; k < rounds; k++)
			for (size_t wi = 0; wi < NW; wi++) {
				size_t at = ((size_t)l * NW + wi) * (size_t)rounds + (size_t)k;
				if ((tw[at] = load(c, &ways[wi], v, n, h, p, tmp, &sw[at])) < 0)
					return 1;
			}
	}
	for (size_t wi = 0; wi < NW; wi++) {
		printf("%-32s", ways[wi].name);
		for (int l = 0; l < 3; l++) {
			size_t at = ((size_t)l * NW + wi) * (size_t)rounds;
			memcpy(t, tw + at, (size_t)rounds * sizeof(*t));
			memcpy(ts, sw + at, (size_t)rounds * sizeof(*ts));
			qsort(t, (size_t)rounds, sizeof(*t), cmpd);
			qsort(ts, (size_t)rounds, sizeof(*ts), cmpd);
			printf("   %7.1f / %6.1f (%6.1f)", t[rounds / 2], t[0], ts[rounds / 2]);
		}
		printf("\n");
	}
	free(tw);
	free(sw);
	nft_remove(c, &e);
	nft_close(c);
	free(v);
	free(h);
	free(p);
	free(tmp);
	free(t);
	free(ts);
	return 0;
}
