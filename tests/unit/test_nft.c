/* SPDX-License-Identifier: MIT */
/* nftables helpers that need no kernel: prefix merging and the longest-prefix split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "nft.h"

static struct cidr P(const char *s) {
	struct cidr c;
	assert_int_equal(cidr_parse(s, &c, 0, NULL), 0);
	return c;
}

static void
range_str(const struct nft_range *r, char *out, size_t len)
{
	char a[64], b[64];
	inet_ntop(r->family, r->lo, a, sizeof(a));
	inet_ntop(r->family, r->hi, b, sizeof(b));
	snprintf(out, len, "%s-%s", a, b);
}

static void expect_ranges(const struct nft_range *r, size_t n, const char *const *want, size_t nw)
{
	char s[160];
	assert_int_equal(n, nw);
	for (size_t i = 0; i < n; i++) {
		range_str(&r[i], s, sizeof(s));
		assert_string_equal(s, want[i]);
	}
}

static void test_merge(void **state)
{
	struct cidr v[] = {P("10.10.4.0/24"),  P("10.10.0.0/16"),       P("10.11.0.0/16"),
			   P("192.0.2.0/25"),  P("192.0.2.128/25"),     P("198.51.100.7/32"),
			   P("2001:db8::/33"), P("2001:db8:8000::/33"), P("2001:db9::/32")};
	struct nft_range r[16];
	static const char *const w4[] = {"10.10.0.0-10.11.255.255", "192.0.2.0-192.0.2.255",
					 "198.51.100.7-198.51.100.7"};
	static const char *const w6[] = {"2001:db8::-2001:db9:ffff:ffff:ffff:ffff:ffff:ffff"};
	(void)state;

	expect_ranges(r, nft_merge_prefixes(v, 9, AF_INET, r), w4, 3);
	expect_ranges(r, nft_merge_prefixes(v, 9, AF_INET6, r), w6, 1);
	assert_int_equal(nft_merge_prefixes(v, 0, AF_INET, r), 0);
}

static void test_merge_top_of_space(void **state)
{
	struct cidr v[] = {P("255.255.255.0/24"), P("255.255.0.0/16"), P("0.0.0.0/0")};
	struct nft_range r[4];
	static const char *const w[] = {"0.0.0.0-255.255.255.255"};
	(void)state;
	expect_ranges(r, nft_merge_prefixes(v, 3, AF_INET, r), w, 1);
}

static void test_split_longest_prefix(void **state)
{
	struct access_rule a[] = {
	    {.cidr = P("192.0.2.0/24"), .mode = ACCESS_FULL},
	    {.cidr = P("192.0.2.64/26"), .mode = ACCESS_PORTS},
	    {.cidr = P("192.0.2.80/28"), .mode = ACCESS_DENY},
	    {.cidr = P("10.0.0.0/8"), .mode = ACCESS_PORTS},
	};
	struct nft_range r[9];
	static const char *const w[] = {"10.0.0.0-10.255.255.255", "192.0.2.0-192.0.2.63",
					"192.0.2.64-192.0.2.79",   "192.0.2.80-192.0.2.95",
					"192.0.2.96-192.0.2.127",  "192.0.2.128-192.0.2.255"};
	static const int tags[] = {3, 0, 1, 2, 1, 0};
	(void)state;

	size_t n = nft_access_split(a, 4, AF_INET, r);
	expect_ranges(r, n, w, 6);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].tag, tags[i]);
	assert_int_equal(nft_access_split(a, 4, AF_INET6, r), 0);
}

static void test_split_same_tag_merges(void **state)
{
	/* a deny in the middle of nothing else: one range; a full /0 around it: three */
	struct access_rule a[] = {
	    {.cidr = P("::/0"), .mode = ACCESS_FULL},
	    {.cidr = P("2001:db8::/32"), .mode = ACCESS_DENY},
	};
	struct nft_range r[5];
	static const char *const w[] = {"::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
					"2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
					"2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"};
	(void)state;
	expect_ranges(r, nft_access_split(a, 2, AF_INET6, r), w, 3);
	assert_int_equal(r[0].tag, 0);
	assert_int_equal(r[1].tag, 1);
	assert_int_equal(r[2].tag, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_merge_top_of_space),
	    cmocka_unit_test(test_split_longest_prefix),
	    cmocka_unit_test(test_split_same_tag_merges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
