/* SPDX-License-Identifier: MIT */
/*
 * bench_nftorder: what the order of an interval set's elements costs the kernel. Loads
 * N exclusions (default 10,000 /24s, every other one, as bench_nft.sh) into a fresh
 * `table inet meshgate` with meshgate's own set builder (nft_add_set: one batch, one
 * NEWSET and its NEWSETELEM messages), the ranges sent ascending (what the agent does:
 * nft_merge_prefixes sorts them), descending, and shuffled; ROUNDS loads each (default
 * 7), median and min printed. Run it in a network namespace of its own:
 *   sudo ip netns add bnft; sudo ip netns exec bnft build/bench/bench_nftorder [N] [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter/nf_tables.h>
#include <openssl/rand.h>

#include "nft.h"
#include "nft_priv.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One load: table + set with `rs` in the given order; returns ms, or -1. */
static double load(struct nft_ctx *c, const struct nft_range *rs, size_t n)
{
	struct nft_build bd = {0};
	mg_err e = {{0}};
	uint32_t id;
	double t0;

	nft_remove(c, &e); /* a previous round's table */
	memset(&e, 0, sizeof(e));
	t0 = now_ms();
	if (nft_batch_begin(c, &bd, &e) < 0 ||
	    nft_add_table(&bd, NFT_MSG_NEWTABLE, NLM_F_CREATE, &e) < 0 ||
	    nft_add_set(&bd, "bench4", DT_IPV4_ADDR, 4, rs, n, &id, &e) < 0 ||
	    nft_batch_end(&bd, &e) < 0) {
		fprintf(stderr, "bench_nftorder: %s\n", e.msg);
		return -1;
	}
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	struct nft_range *asc = calloc(n, sizeof(*asc)), *v = calloc(n, sizeof(*v));
	static const char *const names[] = {"ascending (the agent's order)", "descending",
					    "shuffled"};
	struct nft_ctx *c = NULL;
	double *t = calloc((size_t)rounds, sizeof(*t));
	mg_err e = {{0}};

	if (!asc || !v || !t || rounds < 1 || n == 0 || n > 60000)
		return 2;
	for (size_t i = 0; i < n; i++) {
		asc[i].family = AF_INET;
		asc[i].tag = -1;
		asc[i].lo[0] = asc[i].hi[0] = (uint8_t)(10 + i / 32768);
		asc[i].lo[1] = asc[i].hi[1] = (uint8_t)(20 + i / 128 % 236);
		asc[i].lo[2] = asc[i].hi[2] = (uint8_t)(i % 128 * 2);
		asc[i].hi[3] = 255;
	}
	if (nft_open(&c, &e) < 0) {
		fprintf(stderr, "bench_nftorder: %s\n", e.msg);
		return 1;
	}
	printf("bench_nftorder: %zu ranges in one interval set, %d loads each (kernel %s)\n", n,
	       rounds, "rbtree backend: NFT_SET_INTERVAL, one field");
	for (int order = 0; order < 3; order++) {
		for (size_t i = 0; i < n; i++)
			v[i] = asc[order == 1 ? n - 1 - i : i];
		if (order == 2)
			for (size_t i = n - 1; i > 0; i--) {
				uint32_t r;
				struct nft_range tmp;
				if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
					return 1;
				size_t j = r % (i + 1);
				tmp = v[i];
				v[i] = v[j];
				v[j] = tmp;
			}
		for (int k = 0; k < rounds; k++)
			if ((t[k] = load(c, v, n)) < 0)
				return 1;
		qsort(t, (size_t)rounds, sizeof(*t), cmpd);
		printf("  %-32s median %7.1f ms   min %7.1f ms\n", names[order], t[rounds / 2],
		       t[0]);
	}
	nft_remove(c, &e);
	nft_close(c);
	free(asc);
	free(v);
	free(t);
	return 0;
}
