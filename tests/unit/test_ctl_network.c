/* SPDX-License-Identifier: MIT */
/*
 * The controller's subnet checks at scale: net_check_conflicts (one sort and a pass over
 * neighbours) must agree with the plain pairwise check on random networks, and
 * net_check_limits bounds the subnets of all networks together.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "ctl.h"

static struct cidr rand_cidr(unsigned *seed)
{
	struct cidr c = {.family = AF_INET};
	uint32_t a = 0xC6120000u | ((uint32_t)rand_r(seed) & 0xffffu); /* 198.18.0.0/16 */

	c.len = (uint8_t)(16 + rand_r(seed) % 17);
	if (c.len < 32)
		a &= ~((1u << (32 - c.len)) - 1);
	c.addr[0] = (uint8_t)(a >> 24);
	c.addr[1] = (uint8_t)(a >> 16);
	c.addr[2] = (uint8_t)(a >> 8);
	c.addr[3] = (uint8_t)a;
	return c;
}

static struct ctl_network *new_net(const char *id)
{
	struct ctl_network *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	snprintf(n->id, sizeof(n->id), "%s", id);
	snprintf(n->name, sizeof(n->name), "net %s", id);
	n->subnets = calloc(64, sizeof(*n->subnets));
	assert_non_null(n->subnets);
	return n;
}

static bool overlaps_any(const struct ctl_store *s, const struct cidr *c)
{
	for (size_t m = 0; m < s->n_nets; m++)
		for (size_t k = 0; k < s->nets[m]->n_subnets; k++)
			if (cidr_overlaps(c, &s->nets[m]->subnets[k]))
				return true;
	return false;
}

/* the plain O(n^2) answer */
static bool brute_conflict(const struct ctl_store *s, const struct ctl_network *n)
{
	for (size_t i = 0; i < n->n_subnets; i++) {
		if (cidr_overlaps(&n->subnets[i], &s->mesh))
			return true;
		for (size_t k = i + 1; k < n->n_subnets; k++)
			if (cidr_overlaps(&n->subnets[i], &n->subnets[k]))
				return true;
		for (size_t m = 0; m < s->n_nets; m++)
			for (size_t k = 0;
			     strcmp(s->nets[m]->id, n->id) && k < s->nets[m]->n_subnets; k++)
				if (cidr_overlaps(&n->subnets[i], &s->nets[m]->subnets[k]))
					return true;
	}
	return false;
}

static void test_conflicts_match_pairwise(void **st)
{
	unsigned seed = 16;
	size_t hits = 0, rounds = 2000;

	(void)st;
	for (size_t r = 0; r < rounds; r++) {
		struct ctl_store s;
		struct cidr mesh;
		mg_err e = {""};

		assert_int_equal(cidr_parse("100.96.0.0/11", &mesh, 0, &e), 0);
		store_init(&s, &mesh);
		/* a few stored networks that do not overlap each other */
		for (int m = 0; m < 3; m++) {
			char id[16];
			snprintf(id, sizeof(id), "n-0000000%d", m);
			struct ctl_network *o = new_net(id);
			for (int k = 0; k < 6; k++) {
				struct cidr c = rand_cidr(&seed);
				bool clash = overlaps_any(&s, &c);
				for (size_t j = 0; j < o->n_subnets && !clash; j++)
					clash = cidr_overlaps(&c, &o->subnets[j]);
				if (!clash)
					o->subnets[o->n_subnets++] = c;
			}
			o->n_subnets = cidr_sort_unique(o->subnets, o->n_subnets);
			assert_int_equal(store_add_net(&s, o, &e), 0);
		}
		/* the candidate: a new network, or the replacement of a stored one */
		struct ctl_network *n = new_net(r % 3 ? "n-00000009" : "n-00000001");
		for (int k = 0; k < 1 + (int)(r % 5); k++)
			n->subnets[n->n_subnets++] = rand_cidr(&seed);
		if (r % 17 == 0)
			assert_int_equal(
			    cidr_parse("100.96.4.0/24", &n->subnets[n->n_subnets++], 0, &e), 0);
		n->n_subnets = cidr_sort_unique(n->subnets, n->n_subnets);
		bool want = brute_conflict(&s, n);
		int got = net_check_conflicts(&s, n, &e);
		if ((got < 0) != want)
			fail_msg("round %zu: sorted check says %d, pairwise %d (%s)", r, got, want,
				 e.msg);
		if (want) {
			hits++;
			assert_true(strstr(e.msg, "overlap") != NULL);
		}
		net_free(n);
		store_free(&s);
	}
	/* both answers were exercised */
	assert_true(hits > rounds / 10 && hits < rounds - rounds / 10);
}

static void test_limits_all_networks(void **st)
{
	struct ctl_store s;
	struct cidr mesh;
	mg_err e = {""};
	struct ctl_network *a = new_net("n-0000000a"), *b = new_net("n-0000000b");

	(void)st;
	assert_int_equal(cidr_parse("100.96.0.0/11", &mesh, 0, &e), 0);
	store_init(&s, &mesh);
	free(a->subnets);
	a->subnets = calloc(MG_LIMIT_SUBNETS, sizeof(*a->subnets));
	assert_non_null(a->subnets);
	a->n_subnets = MG_LIMIT_SUBNETS - 10;
	assert_int_equal(net_check_limits(&s, a, &e), 0);
	assert_int_equal(store_add_net(&s, a, &e), 0);
	b->n_subnets = 10;
	assert_int_equal(net_check_limits(&s, b, &e), 0); /* exactly at the limit */
	b->n_subnets = 11;
	assert_int_equal(net_check_limits(&s, b, &e), -1);
	char want[96];
	snprintf(want, sizeof(want), "%d subnets, more than the limit of %d", MG_LIMIT_SUBNETS + 1,
		 MG_LIMIT_SUBNETS);
	assert_non_null(strstr(e.msg, want));
	/* a network's own old subnets do not count twice */
	a->n_subnets = MG_LIMIT_SUBNETS;
	assert_int_equal(net_check_limits(&s, a, &e), 0);
	net_free(b);
	store_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conflicts_match_pairwise),
	    cmocka_unit_test(test_limits_all_networks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
