/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/cidr: strict parsing, canonical formatting, set relations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

static struct cidr P(const char *s) {
	struct cidr c;
	mg_err e = {{0}};
	if (cidr_parse(s, &c, 0, &e) < 0)
		fail_msg("cidr_parse(\"%s\"): %s", s, e.msg);
	return c;
}

static struct cidr
PF(const char *s, unsigned flags) {
	struct cidr c;
	mg_err e = {{0}};
	if (cidr_parse(s, &c, flags, &e) < 0)
		fail_msg("cidr_parse(\"%s\", %u): %s", s, flags, e.msg);
	return c;
}

/* Expect rejection with `flags`; the message must contain `needle`. */
static void
reject(const char *s, unsigned flags, const char *needle)
{
	struct cidr c;
	mg_err e = {{0}};
	if (cidr_parse(s, &c, flags, &e) == 0)
		fail_msg("cidr_parse(\"%s\", %u) accepted it", s, flags);
	assert_true(e.msg[0] != '\0');
	if (needle)
		assert_contains(e.msg, needle);
}

static void check_canon(const char *in, unsigned flags, const char *want)
{
	char buf[CIDR_STRLEN];
	struct cidr c = PF(in, flags), c2;
	assert_string_equal(cidr_format(&c, buf), want);
	/* the canonical text parses back to the very same prefix */
	c2 = PF(buf, flags);
	assert_true(cidr_equal(&c, &c2));
	assert_memory_equal(&c, &c2, sizeof(c));
}

static void test_v4_basic(void **state)
{
	(void)state;
	struct cidr c = P("10.0.0.0/8");
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.len, 8);
	assert_int_equal(c.addr[0], 10);
	for (int i = 1; i < 16; i++)
		assert_int_equal(c.addr[i], 0);
	c = P("192.168.1.0/24");
	assert_int_equal(c.addr[0], 192);
	assert_int_equal(c.addr[1], 168);
	assert_int_equal(c.addr[2], 1);
	assert_int_equal(c.len, 24);
}

static void test_v4_edges(void **state)
{
	(void)state;
	struct cidr c = P("0.0.0.0/0");
	assert_int_equal(c.len, 0);
	assert_true(cidr_is_default(&c));
	c = P("255.255.255.255/32");
	assert_int_equal(c.len, 32);
	assert_false(cidr_is_default(&c));
	for (int i = 0; i < 4; i++)
		assert_int_equal(c.addr[i], 255);
	c = P("10.1.2.3/32");
	assert_int_equal(c.len, 32);
	c = P("128.0.0.0/1");
	assert_int_equal(c.len, 1);
	check_canon("0.0.0.0/0", 0, "0.0.0.0/0");
	check_canon("100.96.0.0/11", 0, "100.96.0.0/11");
}

static void test_v6_edges(void **state)
{
	(void)state;
	struct cidr c = P("::/0");
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.len, 0);
	assert_true(cidr_is_default(&c));
	c = P("::1/128");
	assert_int_equal(c.len, 128);
	assert_int_equal(c.addr[15], 1);
	c = P("2001:db8::/32");
	assert_int_equal(c.addr[0], 0x20);
	assert_int_equal(c.addr[1], 0x01);
	assert_int_equal(c.addr[2], 0x0d);
	assert_int_equal(c.addr[3], 0xb8);
	c = P("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	for (int i = 0; i < 16; i++)
		assert_int_equal(c.addr[i], 0xff);
	/* uppercase is accepted, formatting is lowercase */
	check_canon("2001:DB8:ABCD::/48", 0, "2001:db8:abcd::/48");
	/* the longest zero run is compressed */
	check_canon("2001:0db8:0000:0000:0000:0000:0000:0000/32", 0, "2001:db8::/32");
	check_canon("2001:db8:0:0:1:0:0:1/128", 0, "2001:db8::1:0:0:1/128");
	check_canon("fd00:0:0:0:0:0:0:0/8", 0, "fd00::/8");
	check_canon("::/0", 0, "::/0");
	check_canon("::1/128", 0, "::1/128");
}

static void test_host_bits(void **state)
{
	(void)state;
	/* rejected by default, with the network suggested */
	reject("10.0.0.1/8", 0, "host bits");
	reject("10.0.0.1/8", 0, "did you mean 10.0.0.0/8?");
	reject("192.168.1.77/24", 0, "did you mean 192.168.1.0/24?");
	reject("10.0.0.1/31", 0, "10.0.0.0/31");
	reject("1.0.0.0/0", 0, "did you mean 0.0.0.0/0?");
	reject("2001:db8::1/64", 0, "did you mean 2001:db8::/64?");
	reject("2001:db8:4000::/33", 0, "did you mean 2001:db8::/33?");
	check_canon("2001:db8:8000::/33", 0, "2001:db8:8000::/33");
	reject("::1/127", 0, "did you mean ::/127?");
	/* allowed with the flag: the address keeps its host bits */
	struct cidr c = PF("10.0.0.5/24", CIDR_ALLOW_HOST_BITS);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.len, 24);
	assert_int_equal(c.addr[3], 5);
	check_canon("100.96.0.100/11", CIDR_ALLOW_HOST_BITS, "100.96.0.100/11");
	check_canon("2001:db8::1/64", CIDR_ALLOW_HOST_BITS, "2001:db8::1/64");
	cidr_mask(&c);
	assert_int_equal(c.addr[3], 0);
	char buf[CIDR_STRLEN];
	assert_string_equal(cidr_format(&c, buf), "10.0.0.0/24");
}

static void test_mask(void **state)
{
	(void)state;
	struct cidr c = PF("255.255.255.255/13", CIDR_ALLOW_HOST_BITS);
	char buf[CIDR_STRLEN];
	cidr_mask(&c);
	assert_string_equal(cidr_format(&c, buf), "255.248.0.0/13");
	c = PF("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/65", CIDR_ALLOW_HOST_BITS);
	cidr_mask(&c);
	assert_string_equal(cidr_format(&c, buf), "ffff:ffff:ffff:ffff:8000::/65");
	c = PF("1.2.3.4/0", CIDR_ALLOW_HOST_BITS);
	cidr_mask(&c);
	assert_string_equal(cidr_format(&c, buf), "0.0.0.0/0");
	c = PF("1.2.3.4/32", CIDR_ALLOW_HOST_BITS);
	cidr_mask(&c);
	assert_string_equal(cidr_format(&c, buf), "1.2.3.4/32");
}

static void test_bare(void **state)
{
	(void)state;
	reject("10.0.0.5", 0, "no prefix length");
	reject("2001:db8::1", 0, "no prefix length");
	struct cidr c = PF("10.0.0.5", CIDR_ALLOW_BARE);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.len, 32);
	assert_int_equal(c.addr[3], 5);
	c = PF("2001:db8::1", CIDR_ALLOW_BARE);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.len, 128);
	/* a prefix is still honoured, and still strict about host bits */
	c = PF("10.0.0.0/8", CIDR_ALLOW_BARE);
	assert_int_equal(c.len, 8);
	reject("10.0.0.1/8", CIDR_ALLOW_BARE, "host bits");
	c = PF("10.0.0.1/8", CIDR_ALLOW_BARE | CIDR_ALLOW_HOST_BITS);
	assert_int_equal(c.addr[3], 1);
	reject("not-an-ip", CIDR_ALLOW_BARE, "not an IPv4 or IPv6 address");
	reject("10.0.0", CIDR_ALLOW_BARE, NULL);
	reject("", CIDR_ALLOW_BARE, "empty");
}

static void test_reject_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "010.0.0.0/8",
	    "10.0.0.01/32",
	    "1.2.3/24",
	    "1.2.3.4.5/32",
	    "1.2.3.4/33",
	    "::/129",
	    "/24",
	    "10.0.0.0/",
	    "10.0.0.0/08",
	    "10.0.0.0/008",
	    "10.0.0.0/0008",
	    "10.0.0.0/-1",
	    "10.0.0.0/+8",
	    "10.0.0.0/8 ",
	    " 10.0.0.0/8",
	    "10.0.0.0 /8",
	    "10.0.0.0/ 8",
	    "10.0.0.0/8/8",
	    "10.0.0.0//8",
	    "256.0.0.0/8",
	    "1.2.3.-4/32",
	    "0x0a.0.0.0/8",
	    "10.0.0.0/999",
	    "10.0.0.0/1e1",
	    "10.0.0.0\t/8",
	    "10.0.0.0/8\n",
	    "2001:db8:::/48",
	    "2001:db8::g/128",
	    "fe80::1%eth0/64",
	    "1::2::3/128",
	    "::ffff:010.0.0.1/128",
	    "[::1]/128",
	    "10.0.0.0/8,",
	    "a.b.c.d/8",
	    "10.0.0.0/0x8",
	    ".10.0.0.0/8",
	    "10.0.0.0./8",
	    "/",
	    "//",
	    "::/",
	};
	for (size_t i = 0; i < MG_ARRAY_SIZE(bad); i++) {
		for (unsigned flags = 0; flags < 4; flags++)
			reject(bad[i], flags, NULL);
	}
	reject("", 0, "empty CIDR");
	reject("1.2.3.4/33", 0, "prefix length 33 is more than 32");
	reject("::/129", 0, "prefix length 129 is more than 128");
	reject("10.0.0.0/999", 0, "more than 32");
	reject("10.0.0.0/08", 0, "bad prefix length");
	reject("10.0.0.0/", 0, "bad prefix length");
	reject("/24", 0, "not an IPv4 or IPv6 address");
	reject("010.0.0.0/8", 0, "not an IPv4 or IPv6 address");
	reject("1.2.3/24", 0, "not an IPv4 or IPv6 address");

	struct cidr c;
	assert_int_equal(cidr_parse(NULL, &c, 0, NULL), -1);
	/* a NULL error sink is fine */
	assert_int_equal(cidr_parse("10.0.0.1/8", &c, 0, NULL), -1);
}

static void test_long_input(void **state)
{
	(void)state;
	char big[4096];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	reject(big, 0, "too long");
	reject(big, CIDR_ALLOW_BARE | CIDR_ALLOW_HOST_BITS, "too long");
	/* padding a valid prefix with leading zeros in the length still fails cleanly */
	char s[128];
	snprintf(s, sizeof(s), "10.0.0.0/%s", "00000000000000000000000000000000000000000008");
	reject(s, 0, NULL);
	/* the longest legal IPv6 text (45 chars) plus /128 fits */
	check_canon("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", 0,
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	/* 64 characters or more is refused even when the address would be valid */
	snprintf(s, sizeof(s), "0000:0000:0000:0000:0000:0000:0000:0000:0000/128");
	reject(s, 0, NULL);
}

static void test_v4_mapped(void **state)
{
	(void)state;
	struct cidr m = P("::ffff:10.0.0.0/104"), v4 = P("10.0.0.0/8");
	char buf[CIDR_STRLEN];
	assert_int_equal(m.family, AF_INET6);
	assert_string_equal(cidr_format(&m, buf), "::ffff:10.0.0.0/104");
	/* a mapped address is an IPv6 prefix: it never matches IPv4 */
	assert_false(cidr_overlaps(&m, &v4));
	assert_false(cidr_equal(&m, &v4));
	struct cidr h = PF("::ffff:10.0.0.1", CIDR_ALLOW_BARE);
	assert_int_equal(h.len, 128);
	assert_true(cidr_contains(&m, &h));
	assert_false(cidr_contains_addr(&v4, AF_INET6, h.addr));
}

static void test_addr_parse(void **state)
{
	(void)state;
	uint8_t fam = 0, a[16];
	assert_int_equal(addr_parse("192.0.2.1", &fam, a), 0);
	assert_int_equal(fam, AF_INET);
	assert_int_equal(a[0], 192);
	assert_int_equal(a[3], 1);
	assert_int_equal(a[4], 0);
	assert_int_equal(addr_parse("2001:db8::1", &fam, a), 0);
	assert_int_equal(fam, AF_INET6);
	assert_int_equal(a[15], 1);
	assert_int_equal(addr_parse("192.0.2.01", &fam, a), -1);
	assert_int_equal(addr_parse("", &fam, a), -1);
	assert_int_equal(addr_parse(NULL, &fam, a), -1);
	assert_int_equal(addr_parse("192.0.2.1/32", &fam, a), -1);
	assert_int_equal(addr_parse("example.com", &fam, a), -1);
	assert_int_equal(addr_parse("1", &fam, a), -1);
}

static void test_format_addr(void **state)
{
	(void)state;
	char buf[CIDR_STRLEN];
	struct cidr c = PF("100.96.0.100/11", CIDR_ALLOW_HOST_BITS);
	assert_string_equal(cidr_format_addr(&c, buf), "100.96.0.100");
	c = PF("2001:db8::1/64", CIDR_ALLOW_HOST_BITS);
	assert_string_equal(cidr_format_addr(&c, buf), "2001:db8::1");
	/* an unknown family formats as "?" rather than garbage */
	c.family = 99;
	assert_string_equal(cidr_format_addr(&c, buf), "?");
}

static void test_contains(void **state)
{
	(void)state;
	struct cidr a8 = P("10.0.0.0/8"), a16 = P("10.1.0.0/16"), b16 = P("11.1.0.0/16");
	struct cidr all4 = P("0.0.0.0/0"), all6 = P("::/0"), v6 = P("2001:db8::/32");
	struct cidr v6s = P("2001:db8:1::/48"), h = P("10.1.2.3/32");

	assert_true(cidr_contains(&a8, &a16));
	assert_false(cidr_contains(&a16, &a8));
	assert_true(cidr_contains(&a8, &a8));
	assert_false(cidr_contains(&a8, &b16));
	assert_true(cidr_contains(&all4, &a8));
	assert_true(cidr_contains(&all4, &all4));
	assert_true(cidr_contains(&a16, &h));
	/* never across families, not even for the default routes */
	assert_false(cidr_contains(&all4, &v6));
	assert_false(cidr_contains(&all6, &a8));
	assert_false(cidr_contains(&all4, &all6));
	assert_true(cidr_contains(&all6, &v6));
	assert_true(cidr_contains(&v6, &v6s));
	assert_false(cidr_contains(&v6s, &v6));

	/* boundaries of a non-octet-aligned prefix */
	struct cidr m = P("100.96.0.0/11");
	struct cidr in_lo = P("100.96.0.0/32"), in_hi = P("100.127.255.255/32");
	struct cidr out_lo = P("100.95.255.255/32"), out_hi = P("100.128.0.0/32");
	assert_true(cidr_contains(&m, &in_lo));
	assert_true(cidr_contains(&m, &in_hi));
	assert_false(cidr_contains(&m, &out_lo));
	assert_false(cidr_contains(&m, &out_hi));
}

static void test_contains_addr(void **state)
{
	(void)state;
	struct cidr m = P("100.96.0.0/11"), all4 = P("0.0.0.0/0"), v6 = P("2001:db8::/127");
	struct cidr h6 = P("2001:db8::1/128");
	uint8_t a[16] = {100, 100, 1, 1}, b[16] = {100, 128, 0, 0};
	uint8_t c6[16] = {0x20, 0x01, 0x0d, 0xb8};

	assert_true(cidr_contains_addr(&m, AF_INET, a));
	assert_false(cidr_contains_addr(&m, AF_INET, b));
	assert_false(cidr_contains_addr(&m, AF_INET6, a));
	assert_true(cidr_contains_addr(&all4, AF_INET, b));
	assert_false(cidr_contains_addr(&all4, AF_INET6, c6));
	assert_true(cidr_contains_addr(&v6, AF_INET6, c6));
	c6[15] = 1;
	assert_true(cidr_contains_addr(&v6, AF_INET6, c6));
	assert_true(cidr_contains_addr(&h6, AF_INET6, c6));
	c6[15] = 2;
	assert_false(cidr_contains_addr(&v6, AF_INET6, c6));
	assert_false(cidr_contains_addr(&h6, AF_INET6, c6));
}

static void test_overlaps(void **state)
{
	(void)state;
	struct cidr a = P("10.0.0.0/8"), b = P("10.20.0.0/16"), c = P("11.0.0.0/8");
	struct cidr d = P("0.0.0.0/0"), e6 = P("::/0"), f6 = P("fd00::/8"), g6 = P("fe00::/8");
	assert_true(cidr_overlaps(&a, &b));
	assert_true(cidr_overlaps(&b, &a));
	assert_false(cidr_overlaps(&a, &c));
	assert_true(cidr_overlaps(&d, &c));
	assert_true(cidr_overlaps(&a, &a));
	assert_false(cidr_overlaps(&d, &e6));
	assert_false(cidr_overlaps(&a, &f6));
	assert_true(cidr_overlaps(&e6, &f6));
	assert_false(cidr_overlaps(&f6, &g6));
	/* adjacent but disjoint */
	struct cidr x = P("192.168.0.0/23"), y = P("192.168.2.0/23");
	assert_false(cidr_overlaps(&x, &y));
}

static void test_cmp_and_sort_unique(void **state)
{
	(void)state;
	const char *in[] = {"10.0.0.0/16", "::/0",          "10.0.0.0/8",   "192.168.0.0/16",
			    "10.0.0.0/8",  "2001:db8::/32", "0.0.0.0/0",    "10.0.0.0/16",
			    "::/0",        "9.0.0.0/8",     "2001:db8::/32"};
	const char *want[] = {"0.0.0.0/0",      "9.0.0.0/8", "10.0.0.0/8",   "10.0.0.0/16",
			      "192.168.0.0/16", "::/0",      "2001:db8::/32"};
	struct cidr v[MG_ARRAY_SIZE(in)];
	char buf[CIDR_STRLEN];

	for (size_t i = 0; i < MG_ARRAY_SIZE(in); i++)
		v[i] = P(in[i]);
	assert_true(cidr_cmp(&v[2], &v[0]) < 0); /* /8 before /16 at the same address */
	assert_true(cidr_cmp(&v[0], &v[2]) > 0);
	assert_int_equal(cidr_cmp(&v[2], &v[4]), 0);
	assert_true(cidr_cmp(&v[6], &v[1]) < 0); /* IPv4 before IPv6 */
	size_t n = cidr_sort_unique(v, MG_ARRAY_SIZE(in));
	assert_int_equal(n, MG_ARRAY_SIZE(want));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(cidr_format(&v[i], buf), want[i]);
	assert_int_equal(cidr_sort_unique(v, 0), 0);
	assert_int_equal(cidr_sort_unique(v, 1), 1);
	/* all duplicates */
	struct cidr d[5];
	for (size_t i = 0; i < 5; i++)
		d[i] = P("100.96.0.0/11");
	assert_int_equal(cidr_sort_unique(d, 5), 1);
	assert_string_equal(cidr_format(&d[0], buf), "100.96.0.0/11");
}

static void test_roundtrip_many(void **state)
{
	(void)state;
	/* every prefix length of both families survives format-parse */
	char s[CIDR_STRLEN], buf[CIDR_STRLEN];
	for (int len = 0; len <= 32; len++) {
		struct cidr c = PF("203.0.113.77", CIDR_ALLOW_BARE), c2;
		c.len = (uint8_t)len;
		cidr_mask(&c);
		snprintf(s, sizeof(s), "%s", cidr_format(&c, buf));
		c2 = P(s);
		assert_true(cidr_equal(&c, &c2));
	}
	for (int len = 0; len <= 128; len++) {
		struct cidr c = PF("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", CIDR_ALLOW_BARE), c2;
		c.len = (uint8_t)len;
		cidr_mask(&c);
		snprintf(s, sizeof(s), "%s", cidr_format(&c, buf));
		c2 = P(s);
		assert_true(cidr_equal(&c, &c2));
		assert_true(cidr_contains(&c2, &c));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v4_basic),
	    cmocka_unit_test(test_v4_edges),
	    cmocka_unit_test(test_v6_edges),
	    cmocka_unit_test(test_host_bits),
	    cmocka_unit_test(test_mask),
	    cmocka_unit_test(test_bare),
	    cmocka_unit_test(test_reject_malformed),
	    cmocka_unit_test(test_long_input),
	    cmocka_unit_test(test_v4_mapped),
	    cmocka_unit_test(test_addr_parse),
	    cmocka_unit_test(test_format_addr),
	    cmocka_unit_test(test_contains),
	    cmocka_unit_test(test_contains_addr),
	    cmocka_unit_test(test_overlaps),
	    cmocka_unit_test(test_cmp_and_sort_unique),
	    cmocka_unit_test(test_roundtrip_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
