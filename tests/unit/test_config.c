/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/config: the controller's document, its form and its safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

#define HUB_KEY "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="

/* The example document of CONTROLLER-API.md, with a real key. */
static const char full_doc[] =
    "{\n"
    "  \"version\": 7,\n"
    "  \"device\": {\"id\": \"c-3f2a\", \"name\": \"HQ Network connector\"},\n"
    "  \"tunnel\": {\n"
    "    \"address\": \"100.96.0.100/11\", \"mtu\": 1420, \"keepalive\": 25,\n"
    "    \"hub\": {\"public_key\": \"" HUB_KEY "\", \"endpoint\": \"hub.example.net:51820\"}\n"
    "  },\n"
    "  \"routes\": [\"100.96.0.0/11\", \"192.168.0.0/22\"],\n"
    "  \"advertised\": [\"10.0.0.0/18\"],\n"
    "  \"nat\": {\"enabled\": true, \"exclude\": [\"10.10.0.0/16\"]},\n"
    "  \"access\": [\n"
    "    {\"cidr\": \"10.0.0.0/18\", \"mode\": \"full\"},\n"
    "    {\"cidr\": \"10.0.64.0/24\", \"mode\": \"ports\", \"ports\": [\"tcp/443\", \"tcp/22\"]}\n"
    "  ],\n"
    "  \"egress\": false,\n"
    "  \"cloud\": {\"manage_routes\": true, \"destinations\": [\"100.96.0.0/11\", "
    "\"192.168.0.0/22\"]}\n"
    "}\n";

static const char min_doc[] =
    "{\"version\":1,\"tunnel\":{\"address\":\"100.96.0.2/11\",\"hub\":{\"public_key\":\"" HUB_KEY
    "\",\"endpoint\":\"192.0.2.1:51820\"}}}";

static void parse_ok(const char *doc, struct mg_config *c)
{
	mg_err e = {{0}};
	if (config_parse(doc, strlen(doc), c, &e) < 0)
		fail_msg("config_parse: %s\n%s", e.msg, doc);
}

static void parse_bad(const char *doc, const char *needle)
{
	struct mg_config c;
	mg_err e = {{0}};
	if (config_parse(doc, strlen(doc), &c, &e) == 0) {
		config_free(&c);
		fail_msg("config_parse accepted:\n%s", doc);
	}
	assert_contains(e.msg, "config");
	assert_contains(e.msg, needle);
	/* left empty and freeable */
	assert_null(c.routes);
	assert_null(c.access);
	assert_int_equal(c.n_access, 0);
	config_free(&c);
}

/* The full document with the first `from` replaced by `to`, which must be refused. */
static void variant_bad(const char *from, const char *to, const char *needle)
{
	char *doc = malloc(sizeof(full_doc) + strlen(to) + 1);
	const char *at = strstr(full_doc, from);
	assert_non_null(doc);
	if (!at)
		fail_msg("fixture has no \"%s\"", from);
	size_t pre = (size_t)(at - full_doc);
	memcpy(doc, full_doc, pre);
	strcpy(doc + pre, to);
	strcat(doc, at + strlen(from));
	parse_bad(doc, needle);
	free(doc);
}

/* The minimal document with `extra` members added at the end, which must be refused. */
static void min_bad(const char *extra, const char *needle)
{
	char doc[1024];
	snprintf(doc, sizeof(doc), "%.*s,%s}", (int)strlen(min_doc) - 1, min_doc, extra);
	parse_bad(doc, needle);
}

static void fmt(const struct cidr *c, const char *want)
{
	char buf[CIDR_STRLEN];
	assert_string_equal(cidr_format(c, buf), want);
}

static void test_full_document(void **state)
{
	(void)state;
	struct mg_config c;
	uint8_t key[WG_KEY_LEN];
	parse_ok(full_doc, &c);
	assert_int_equal(c.version, 7);
	assert_string_equal(c.device_id, "c-3f2a");
	assert_string_equal(c.device_name, "HQ Network connector");
	fmt(&c.tunnel.address, "100.96.0.100/11");
	assert_int_equal(c.tunnel.mtu, 1420);
	assert_int_equal(c.tunnel.keepalive, 25);
	assert_int_equal(wgkey_from_base64(HUB_KEY, key), 0);
	assert_memory_equal(c.tunnel.hub_public_key, key, WG_KEY_LEN);
	assert_string_equal(c.tunnel.hub_endpoint, "hub.example.net:51820");
	assert_int_equal(c.n_routes, 2);
	fmt(&c.routes[0], "100.96.0.0/11");
	fmt(&c.routes[1], "192.168.0.0/22");
	assert_int_equal(c.n_advertised, 1);
	fmt(&c.advertised[0], "10.0.0.0/18");
	assert_true(c.nat.enabled);
	assert_int_equal(c.nat.n_exclude, 1);
	fmt(&c.nat.exclude[0], "10.10.0.0/16");
	assert_int_equal(c.n_access, 2);
	fmt(&c.access[0].cidr, "10.0.0.0/18");
	assert_int_equal(c.access[0].mode, ACCESS_FULL);
	assert_int_equal(c.access[0].n_ports, 0);
	fmt(&c.access[1].cidr, "10.0.64.0/24");
	assert_int_equal(c.access[1].mode, ACCESS_PORTS);
	assert_int_equal(c.access[1].n_ports, 2);
	assert_int_equal(c.access[1].ports[0].proto, IPPROTO_TCP);
	assert_int_equal(c.access[1].ports[0].first, 443);
	assert_int_equal(c.access[1].ports[0].last, 443);
	assert_int_equal(c.access[1].ports[1].first, 22);
	assert_false(c.egress);
	assert_true(c.cloud.manage_routes);
	assert_int_equal(c.cloud.n_destinations, 2);
	fmt(&c.cloud.destinations[0], "100.96.0.0/11");
	fmt(&c.cloud.destinations[1], "192.168.0.0/22");
	config_free(&c);
	config_free(&c); /* idempotent */
	config_free(NULL);
}

static void test_minimal_defaults(void **state)
{
	(void)state;
	struct mg_config c;
	parse_ok(min_doc, &c);
	assert_int_equal(c.version, 1);
	assert_int_equal(c.tunnel.mtu, 1420);
	assert_int_equal(c.tunnel.keepalive, 25);
	assert_int_equal(c.n_routes, 0);
	assert_null(c.routes);
	assert_false(c.nat.enabled);
	assert_false(c.egress);
	assert_false(c.cloud.manage_routes);
	assert_string_equal(c.device_id, "");
	config_free(&c);
}

static void test_ipv6_and_extras(void **state)
{
	(void)state;
	struct mg_config c;
	const char *doc =
	    "{\"version\":9007199254740991,\"tunnel\":{\"address\":\"fd00:6d67::5/64\","
	    "\"mtu\":1280,\"keepalive\":0,\"hub\":{\"public_key\":\"" HUB_KEY
	    "\",\"endpoint\":\"[2001:db8::1]:51820\"}},"
	    "\"routes\":[\"fd00:6d67::/64\",\"2001:db8:1::/48\",\"10.0.0.0/8\",\"10.0.0.0/8\"],"
	    "\"access\":[{\"cidr\":\"2001:db8:2::/48\",\"mode\":\"deny\"},"
	    "{\"cidr\":\"192.0.2.0/24\",\"mode\":\"ports\",\"ports\":[\"udp/5000-5100\","
	    "\"tcp/1-65535\"]},{\"cidr\":\"198.51.100.0/24\",\"mode\":\"full\",\"ports\":[]}],"
	    "\"egress\":true,\"nat\":{\"enabled\":false,\"exclude\":[]},\"cloud\":{}}";
	parse_ok(doc, &c);
	assert_int_equal(c.version, 9007199254740991LL);
	fmt(&c.tunnel.address, "fd00:6d67::5/64");
	assert_int_equal(c.tunnel.mtu, 1280);
	assert_int_equal(c.tunnel.keepalive, 0);
	assert_string_equal(c.tunnel.hub_endpoint, "[2001:db8::1]:51820");
	/* sorted, duplicates dropped */
	assert_int_equal(c.n_routes, 3);
	fmt(&c.routes[0], "10.0.0.0/8");
	fmt(&c.routes[1], "2001:db8:1::/48");
	fmt(&c.routes[2], "fd00:6d67::/64");
	assert_int_equal(c.access[0].mode, ACCESS_DENY);
	assert_int_equal(c.access[1].ports[0].proto, IPPROTO_UDP);
	assert_int_equal(c.access[1].ports[0].first, 5000);
	assert_int_equal(c.access[1].ports[0].last, 5100);
	assert_int_equal(c.access[1].ports[1].first, 1);
	assert_int_equal(c.access[1].ports[1].last, 65535);
	assert_int_equal(c.access[2].mode, ACCESS_FULL);
	assert_true(c.egress);
	config_free(&c);
}

static void test_not_a_document(void **state)
{
	(void)state;
	parse_bad("", "empty");
	parse_bad("[]", "must be an object");
	parse_bad("{\"version\":1", "malformed JSON");
	parse_bad("{} {}", "trailing");
	struct mg_config c;
	mg_err e = {{0}};
	assert_int_equal(config_parse("{\"version\":1}\0", 14, &c, &e), -1);
	assert_contains(e.msg, "NUL");
	assert_int_equal(config_parse("{}", CONFIG_MAX_BYTES + 1, &c, &e), -1);
	assert_contains(e.msg, "larger than");
}

static void test_version_and_types(void **state)
{
	(void)state;
	variant_bad("\"version\": 7,", "", "\"version\" is required");
	variant_bad("\"version\": 7", "\"version\": \"7\"", "\"version\" must be a number");
	variant_bad("\"version\": 7", "\"version\": 7.5", "\"version\" must be an integer");
	variant_bad("\"version\": 7", "\"version\": 0", "\"version\" must be between 1");
	variant_bad("\"version\": 7", "\"version\": -3", "\"version\" must be between 1");
	variant_bad("\"version\": 7", "\"version\": 1e300", "\"version\" must be between");
	variant_bad("\"version\": 7", "\"version\": null", "\"version\" is required");
	variant_bad("{\"id\": \"c-3f2a\", \"name\": \"HQ Network connector\"}", "[\"c-3f2a\"]",
		    "\"device\" must be an object");
	variant_bad("\"id\": \"c-3f2a\"", "\"id\": 3", "\"id\" must be a string");
	variant_bad("\"routes\": [\"100.96.0.0/11\", \"192.168.0.0/22\"]",
		    "\"routes\": \"100.96.0.0/11\"", "\"routes\" must be an array");
	variant_bad("\"routes\": [\"100.96.0.0/11\"", "\"routes\": [1006",
		    "\"routes\"[0] must be a string");
	variant_bad("[\"10.0.0.0/18\"],", "{},", "\"advertised\" must be an array");
	variant_bad("{\"enabled\": true, \"exclude\": [\"10.10.0.0/16\"]}", "true",
		    "\"nat\" must be an object");
	variant_bad("\"enabled\": true", "\"enabled\": \"yes\"",
		    "\"enabled\" must be true or false");
	variant_bad("\"egress\": false", "\"egress\": 0", "\"egress\" must be true or false");
	min_bad("\"access\": {}", "\"access\" must be an array");
	variant_bad("{\"cidr\": \"10.0.0.0/18\", \"mode\": \"full\"}", "\"10.0.0.0/18\"",
		    "\"access\"[0] must be an object");
	variant_bad("\"manage_routes\": true", "\"manage_routes\": 1",
		    "\"manage_routes\" must be true or false");
	min_bad("\"cloud\": []", "\"cloud\" must be an object");
	min_bad("\"cloud\": {\"destinations\": \"x\"}", "\"destinations\" must be an array");
	min_bad("\"nat\": {\"exclude\": {}}", "\"exclude\" must be an array");
	min_bad("\"routes\": null, \"advertised\": [null]", "\"advertised\"[0] must be a string");
	variant_bad("\"mtu\": 1420", "\"mtu\": \"1420\"", "\"mtu\" must be a number");
}

static struct cidr cidr_of(const char *s);

/* tunnel.address6: the IPv6 address of a dual-stack mesh, beside an IPv4 address */
static void test_address6(void **state)
{
	struct mg_config c;
	(void)state;
	parse_ok(min_doc, &c);
	assert_false(c.tunnel.has_address6);
	config_free(&c);
	parse_ok("{\"version\":1,\"tunnel\":{\"address\":\"100.96.0.2/11\",\"address6\":"
		 "\"fd6d:6773::2/64\",\"hub\":{\"public_key\":\"" HUB_KEY
		 "\",\"endpoint\":\"[2001:db8::1]:51820\"}},\"routes\":[\"100.96.0.0/11\","
		 "\"fd6d:6773::/64\"]}",
		 &c);
	assert_true(c.tunnel.has_address6);
	fmt(&c.tunnel.address6, "fd6d:6773::2/64");
	assert_string_equal(c.tunnel.hub_endpoint, "[2001:db8::1]:51820");
	config_free(&c);
	variant_bad("\"address\": \"100.96.0.100/11\",",
		    "\"address\": \"100.96.0.100/11\", \"address6\": \"100.96.0.9/11\",",
		    "is not an IPv6 address");
	variant_bad("\"address\": \"100.96.0.100/11\",",
		    "\"address\": \"100.96.0.100/11\", \"address6\": \"fd6d::2\",",
		    "tunnel.address6");
	variant_bad("\"address\": \"100.96.0.100/11\",",
		    "\"address\": \"100.96.0.100/11\", \"address6\": 6,", "address6");
	variant_bad("\"address\": \"100.96.0.100/11\",",
		    "\"address\": \"fd6d::5/64\", \"address6\": \"fd6d::2/64\",",
		    "goes with an IPv4 tunnel.address");

	/* its range overlapping the LAN is as unsafe as the IPv4 one */
	{
		struct cidr lan[] = {cidr_of("fd6d:6773::/48")};
		struct config_safety s = {.lan = lan, .n_lan = 1};
		mg_err e = {{0}};
		parse_ok("{\"version\":1,\"tunnel\":{\"address\":\"100.96.0.2/11\",\"address6\":"
			 "\"fd6d:6773::2/64\",\"hub\":{\"public_key\":\"" HUB_KEY
			 "\",\"endpoint\":\"192.0.2.1:51820\"}}}",
			 &c);
		assert_int_equal(config_check_safety(&c, &s, &e), -1);
		assert_contains(e.msg, "tunnel address range fd6d:6773::/64 overlaps");
		config_free(&c);
	}
}

static void test_tunnel(void **state)
{
	(void)state;
	variant_bad("\"tunnel\": {", "\"tunnel\": 1, \"x\": {", "\"tunnel\" must be an object");
	variant_bad("\"tunnel\": {", "\"tunel\": {", "\"tunnel\" is required");
	variant_bad("\"address\": \"100.96.0.100/11\",", "", "\"address\" is required");
	variant_bad("100.96.0.100/11", "100.96.0.100", "tunnel.address");
	variant_bad("100.96.0.100/11", "100.96.0.100", "no prefix length");
	variant_bad("100.96.0.100/11", "100.96.0.100/33", "tunnel.address");
	variant_bad("100.96.0.100/11", "100.96.0/11", "not an IPv4 or IPv6 address");
	variant_bad("\"mtu\": 1420", "\"mtu\": 1279", "\"mtu\" must be between 1280 and 9000");
	variant_bad("\"mtu\": 1420", "\"mtu\": 9001", "\"mtu\" must be between 1280 and 9000");
	variant_bad("\"mtu\": 1420", "\"mtu\": 0", "\"mtu\" must be between 1280 and 9000");
	variant_bad("\"keepalive\": 25", "\"keepalive\": -1",
		    "\"keepalive\" must be between 0 and 3600");
	variant_bad("\"keepalive\": 25", "\"keepalive\": 3601", "\"keepalive\" must be between");
	variant_bad("\"hub\": {", "\"hib\": {", "\"hub\" is required");
	/* hub key */
	variant_bad("\"public_key\": \"" HUB_KEY "\", ", "", "\"public_key\" is required");
	variant_bad(HUB_KEY, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",
		    "tunnel.hub.public_key is not a base64 WireGuard key");
	variant_bad(HUB_KEY, "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=",
		    "tunnel.hub.public_key is not a base64 WireGuard key");
	variant_bad(HUB_KEY, "AAAA", "tunnel.hub.public_key is not a base64 WireGuard key");
	variant_bad(HUB_KEY, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
		    "tunnel.hub.public_key is not a base64 WireGuard key");
	variant_bad(HUB_KEY, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a00",
		    "\"public_key\" is longer than");
	/* hub endpoint */
	variant_bad(", \"endpoint\": \"hub.example.net:51820\"", "", "\"endpoint\" is required");
	static const char *const bad_ep[] = {
	    "hub.example.net",
	    "hub.example.net:",
	    "hub.example.net:0",
	    "hub.example.net:65536",
	    "hub.example.net:51820x",
	    ":51820",
	    "hub.example.net: 51820",
	    "hub.example.net:-1",
	    "2001:db8::1:51820",
	    "[2001:db8::1]",
	    "[2001:db8::1]51820",
	    "[]:51820",
	    "hub_example.net:51820",
	    "hub example.net:51820",
	    "hub.example.net:+51820",
	    "[not-an-address]:51820",
	    "[192.0.2.1]:51820",
	    "[2001:db8::1:51820",
	    "hub.example.net:99999999999999999999",
	};
	char to[128];
	for (size_t i = 0; i < MG_ARRAY_SIZE(bad_ep); i++) {
		snprintf(to, sizeof(to), "\"endpoint\": \"%s\"", bad_ep[i]);
		variant_bad("\"endpoint\": \"hub.example.net:51820\"", to, "tunnel.hub.endpoint");
	}
	variant_bad("\"endpoint\": \"hub.example.net:51820\"", "\"endpoint\": 51820",
		    "\"endpoint\" must be a string");
}

static void test_bad_cidrs(void **state)
{
	(void)state;
	variant_bad("\"192.168.0.0/22\"]", "\"192.168.0.0/33\"]", "\"routes\"[1]");
	variant_bad("\"192.168.0.0/22\"]", "\"192.168.0.1/22\"]", "\"routes\"[1]");
	variant_bad("\"192.168.0.0/22\"]", "\"192.168.0.1/22\"]",
		    "has host bits set (did you mean 192.168.0.0/22?)");
	variant_bad("\"192.168.0.0/22\"]", "\"192.168.0.0\"]", "no prefix length");
	variant_bad("\"192.168.0.0/22\"]", "\"192.168.00.0/22\"]", "not an IPv4 or IPv6");
	variant_bad("\"10.0.0.0/18\"]", "\"10.0.0.0/18\", \"bogus\"]", "\"advertised\"[1]");
	variant_bad("\"10.10.0.0/16\"", "\"10.10.0.0/16/\"", "\"nat.exclude\"[0]");
	variant_bad("\"10.10.0.0/16\"", "\"10.10.0.1/16\"", "\"nat.exclude\"[0]");
	variant_bad("\"10.10.0.0/16\"", "\"10.10.0.0/16\", 7",
		    "\"nat.exclude\"[1] must be a string");
	variant_bad("{\"cidr\": \"10.0.0.0/18\"", "{\"cidr\": \"10.0.0.0/\"",
		    "\"access\"[0]: \"10.0.0.0/\": bad prefix length");
	variant_bad("{\"cidr\": \"10.0.0.0/18\"", "{\"cidr\": \"10.0.0.1/18\"", "host bits");
	variant_bad("{\"cidr\": \"10.0.0.0/18\", ", "{", "\"access\"[0]: \"cidr\" is required");
	variant_bad("\"destinations\": [\"100.96.0.0/11\"", "\"destinations\": [\"100.96.0.0/10\"",
		    "\"cloud.destinations\"[0]");
	variant_bad("\"destinations\": [\"100.96.0.0/11\"", "\"destinations\": [\"::/129\"",
		    "\"cloud.destinations\"[0]");
}

static void test_access(void **state)
{
	(void)state;
	variant_bad("\"mode\": \"full\"", "\"mode\": \"allow\"",
		    "\"access\"[0]: mode \"allow\" is not full, ports or deny");
	variant_bad("\"mode\": \"full\"", "\"mode\": \"FULL\"", "is not full, ports or deny");
	variant_bad("\"mode\": \"full\"", "\"mode\": 1",
		    "\"access\"[0]: \"mode\" must be a string");
	variant_bad(", \"mode\": \"full\"", "", "\"access\"[0]: \"mode\" is required");
	variant_bad("\"mode\": \"full\"", "\"mode\": \"full\", \"ports\": [\"tcp/22\"]",
		    "\"access\"[0]: \"ports\" only goes with mode \"ports\"");
	variant_bad("\"mode\": \"full\"", "\"mode\": \"deny\", \"ports\": [\"tcp/22\"]",
		    "\"ports\" only goes with mode \"ports\"");
	variant_bad(", \"ports\": [\"tcp/443\", \"tcp/22\"]", "",
		    "\"access\"[1]: mode \"ports\" needs a non-empty \"ports\" list");
	variant_bad("[\"tcp/443\", \"tcp/22\"]", "[]", "needs a non-empty \"ports\" list");
	variant_bad("[\"tcp/443\", \"tcp/22\"]", "\"tcp/443\"", "\"ports\" must be an array");
	variant_bad("[\"tcp/443\", \"tcp/22\"]", "[443]",
		    "\"access\"[1].ports: entries must be strings");
	static const struct {
		const char *port, *needle;
	} bad_ports[] = {
	    {"tcp443", "must look like tcp/443"},
	    {"icmp/1", "protocol must be tcp or udp"},
	    {"TCP/443", "protocol must be tcp or udp"},
	    {"/443", "protocol must be tcp or udp"},
	    {"toolongproto/1", "must look like"},
	    {"tcp/", "bad port number"},
	    {"tcp/x", "bad port number"},
	    {"tcp/ 443", "bad port number"},
	    {"tcp/-1", "bad port number"},
	    {"tcp/0", "ports are 1-65535"},
	    {"tcp/65536", "ports are 1-65535"},
	    {"tcp/99999999999999999999", "ports are 1-65535"},
	    {"tcp/443 ", "ports are 1-65535"},
	    {"tcp/443x", "ports are 1-65535"},
	    {"udp/5000-", "bad port range"},
	    {"udp/5000-x", "bad port range"},
	    {"udp/5000-+5100", "bad port range"},
	    {"udp/5100-5000", "ranges low-high"},
	    {"udp/5000-65536", "ports are 1-65535"},
	    {"udp/0-5", "ports are 1-65535"},
	    {"udp/1-2-3", "ports are 1-65535"},
	    {"", "must look like"},
	};
	char to[128];
	for (size_t i = 0; i < MG_ARRAY_SIZE(bad_ports); i++) {
		snprintf(to, sizeof(to), "[\"tcp/443\", \"%s\"]", bad_ports[i].port);
		variant_bad("[\"tcp/443\", \"tcp/22\"]", to, bad_ports[i].needle);
		variant_bad("[\"tcp/443\", \"tcp/22\"]", to, "\"access\"[1]");
	}
	/* the same network twice, even spelled differently */
	variant_bad("\"10.0.64.0/24\"", "\"10.0.0.0/18\"",
		    "\"access\": 10.0.0.0/18 is listed twice");
	variant_bad("{\"cidr\": \"10.0.0.0/18\", \"mode\": \"full\"}",
		    "{\"cidr\": \"2001:db8::/32\", \"mode\": \"full\"}, "
		    "{\"cidr\": \"2001:0db8::/32\", \"mode\": \"deny\"}",
		    "\"access\": 2001:0db8::/32 is listed twice");
}

static char *doc_with_n(const char *key, size_t n, bool nested)
{
	size_t cap = 512 + n * 24;
	char *d = malloc(cap), *p;
	assert_non_null(d);
	p = d + snprintf(d, cap, "%.*s", (int)strlen(min_doc) - 1, min_doc);
	if (nested && !strcmp(key, "cloud"))
		p += sprintf(p, ",\"cloud\":{\"manage_routes\":true,\"destinations\":[");
	else
		p += sprintf(p, nested ? ",\"%s\":{\"exclude\":[" : ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\"10.%zu.%zu.0/24\"", i ? "," : "", (i >> 8) & 255, i & 255);
	strcpy(p, nested ? "]}}" : "]}");
	return d;
}

static void test_limits(void **state)
{
	(void)state;
	struct mg_config c;
	char *d = doc_with_n("routes", CONFIG_MAX_ROUTES, false);
	parse_ok(d, &c);
	assert_int_equal(c.n_routes, CONFIG_MAX_ROUTES);
	config_free(&c);
	free(d);
	char want[160];
	/* the one table of limits: at least 10,000 routes and exclusions */
	assert_true(CONFIG_MAX_ROUTES >= 10000 && CONFIG_MAX_EXCLUDE >= 10000);
	assert_int_equal(CONFIG_MAX_ROUTES, MG_LIMIT_ROUTES);
	assert_int_equal(CONFIG_MAX_CLOUD, MG_LIMIT_ROUTES);
	d = doc_with_n("routes", CONFIG_MAX_ROUTES + 1, false);
	snprintf(want, sizeof(want),
		 "\"routes\" has %d entries, more than the limit of %d (docs/LIMITS.md)",
		 MG_LIMIT_ROUTES + 1, MG_LIMIT_ROUTES);
	parse_bad(d, want);
	free(d);
	d = doc_with_n("advertised", CONFIG_MAX_ADVERTISE + 1, false);
	snprintf(want, sizeof(want), "\"advertised\" has %d entries", MG_LIMIT_SUBNETS + 1);
	parse_bad(d, want);
	free(d);
	d = doc_with_n("nat", MG_LIMIT_EXCLUDES, true);
	parse_ok(d, &c);
	assert_int_equal(c.nat.n_exclude, MG_LIMIT_EXCLUDES);
	config_free(&c);
	free(d);
	d = doc_with_n("nat", MG_LIMIT_EXCLUDES + 1, true);
	snprintf(want, sizeof(want), "\"nat.exclude\" has %d entries, more than the limit of %d",
		 MG_LIMIT_EXCLUDES + 1, MG_LIMIT_EXCLUDES);
	parse_bad(d, want);
	free(d);
	/* cloud.destinations are the routes: as many (the 1,024 cap of old is gone) */
	d = doc_with_n("cloud", MG_LIMIT_ROUTES, true);
	parse_ok(d, &c);
	assert_int_equal(c.cloud.n_destinations, MG_LIMIT_ROUTES);
	config_free(&c);
	free(d);
	d = doc_with_n("cloud", MG_LIMIT_ROUTES + 1, true);
	snprintf(want, sizeof(want), "\"cloud.destinations\" has %d entries", MG_LIMIT_ROUTES + 1);
	parse_bad(d, want);
	free(d);

	/* too many access rules */
	size_t cap = 512 + (CONFIG_MAX_ACCESS + 1) * 64;
	char *a = malloc(cap), *p;
	assert_non_null(a);
	p = a + snprintf(a, cap, "%.*s,\"access\":[", (int)strlen(min_doc) - 1, min_doc);
	for (size_t i = 0; i <= CONFIG_MAX_ACCESS; i++)
		p += sprintf(p, "%s{\"cidr\":\"10.%zu.%zu.0/24\",\"mode\":\"full\"}", i ? "," : "",
			     (i >> 8) & 255, i & 255);
	strcpy(p, "]}");
	snprintf(want, sizeof(want), "\"access\" has %d entries, more than the limit of %d",
		 MG_LIMIT_ACCESS + 1, MG_LIMIT_ACCESS);
	parse_bad(a, want);
	free(a);
}

static void test_split_endpoint(void **state)
{
	(void)state;
	char host[CONFIG_ENDPOINT_MAX];
	uint16_t port = 0;
	assert_int_equal(config_split_endpoint("hub.example.net:51820", host, sizeof(host), &port),
			 0);
	assert_string_equal(host, "hub.example.net");
	assert_int_equal(port, 51820);
	assert_int_equal(config_split_endpoint("[2001:db8::1]:1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(port, 1);
	assert_int_equal(config_split_endpoint("192.0.2.1:65535", host, sizeof(host), &port), 0);
	assert_string_equal(host, "192.0.2.1");
	assert_int_equal(port, 65535);
	/* the host buffer bounds the copy */
	assert_int_equal(config_split_endpoint("hub.example.net:51820", host, 15, &port), -1);
	assert_int_equal(config_split_endpoint("hub.example.net:51820", host, 16, &port), 0);
	assert_int_equal(config_split_endpoint("[2001:db8::1]:1", host, 11, &port), -1);
	assert_int_equal(config_split_endpoint(NULL, host, sizeof(host), &port), -1);
	assert_int_equal(config_split_endpoint("", host, sizeof(host), &port), -1);
	assert_int_equal(config_split_endpoint("[fe80::1%eth0]:51820", host, sizeof(host), &port),
			 -1);
	char big[CONFIG_ENDPOINT_MAX + 8];
	memset(big, 'a', sizeof(big));
	strcpy(big + sizeof(big) - 7, ":51820");
	assert_int_equal(config_split_endpoint(big, host, sizeof(host), &port), -1);
	assert_string_equal(access_mode_name(ACCESS_FULL), "full");
	assert_string_equal(access_mode_name(ACCESS_PORTS), "ports");
	assert_string_equal(access_mode_name(ACCESS_DENY), "deny");
}

/* --- config_check_safety --- */

static struct cidr cidr_of(const char *s)
{
	struct cidr c;
	mg_err e = {{0}};
	if (cidr_parse(s, &c, 0, &e) < 0)
		fail_msg("%s", e.msg);
	return c;
}

static void protect(struct config_safety *s, const char *addr, const char *what)
{
	size_t k = s->n_protect++;
	assert_int_equal(addr_parse(addr, &s->protect[k].family, s->protect[k].addr), 0);
	snprintf(s->protect[k].what, sizeof(s->protect[k].what), "%s", what);
}

static void safety_doc(const char *routes, bool egress, const char *addr, struct mg_config *c)
{
	char doc[2048];
	snprintf(doc, sizeof(doc),
		 "{\"version\":3,\"tunnel\":{\"address\":\"%s\",\"hub\":{\"public_key\":\"" HUB_KEY
		 "\",\"endpoint\":\"198.51.100.1:51820\"}},\"routes\":[%s],\"egress\":%s}",
		 addr, routes, egress ? "true" : "false");
	parse_ok(doc, c);
}

static void safe(const struct mg_config *c, const struct config_safety *s)
{
	mg_err e = {{0}};
	if (config_check_safety(c, s, &e) < 0)
		fail_msg("config_check_safety: %s", e.msg);
}

static void unsafe(const struct mg_config *c, const struct config_safety *s, const char *needle)
{
	mg_err e = {{0}};
	assert_int_equal(config_check_safety(c, s, &e), -1);
	assert_contains(e.msg, "unsafe config");
	assert_contains(e.msg, needle);
}

static void test_safety(void **state)
{
	(void)state;
	struct cidr lan[] = {cidr_of("192.0.2.0/24"), cidr_of("2001:db8:100::/64")};
	struct config_safety s = {.lan = lan, .n_lan = 2};
	struct mg_config c;
	protect(&s, "203.0.113.10", "the controller");
	protect(&s, "198.51.100.1", "the hub endpoint");

	/* the example's routes are fine, and so is no safety context at all */
	safety_doc("\"100.96.0.0/11\",\"10.20.0.0/16\",\"2001:db8:200::/48\"", false,
		   "100.96.0.100/11", &c);
	safe(&c, &s);
	safe(&c, NULL);
	config_free(&c);

	/* a route covering the controller's address */
	safety_doc("\"100.96.0.0/11\",\"203.0.113.0/24\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "route 203.0.113.0/24 covers the controller (203.0.113.10)");
	config_free(&c);
	safety_doc("\"203.0.113.10/32\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "covers the controller");
	config_free(&c);
	safety_doc("\"128.0.0.0/1\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "route 128.0.0.0/1 covers the controller");
	config_free(&c);
	safety_doc("\"198.51.100.0/24\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "covers the hub endpoint (198.51.100.1)");
	config_free(&c);
	/* next to the controller, not covering it: fine */
	safety_doc("\"203.0.113.0/29\",\"203.0.113.11/32\"", false, "100.96.0.100/11", &c);
	safe(&c, &s);
	config_free(&c);

	/* a route overlapping a LAN subnet, either way round */
	safety_doc("\"192.0.2.128/25\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "route 192.0.2.128/25 overlaps this host's own LAN subnet 192.0.2.0/24");
	config_free(&c);
	safety_doc("\"192.0.0.0/16\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "overlaps this host's own LAN subnet 192.0.2.0/24");
	config_free(&c);
	safety_doc("\"2001:db8::/32\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "LAN subnet 2001:db8:100::/64");
	config_free(&c);

	/* default routes: refused with egress off, allowed with egress on */
	safety_doc("\"0.0.0.0/0\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "default route 0.0.0.0/0 while egress is off");
	config_free(&c);
	safety_doc("\"::/0\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "default route ::/0 while egress is off");
	config_free(&c);
	safety_doc("\"::/0\"", false, "100.96.0.100/11", &c);
	unsafe(&c, NULL, "default route ::/0 while egress is off");
	config_free(&c);
	safety_doc("\"0.0.0.0/0\",\"::/0\",\"100.96.0.0/11\"", true, "100.96.0.100/11", &c);
	safe(&c, &s);
	config_free(&c);

	/* tunnel range overlapping the LAN */
	safety_doc("\"100.96.0.0/11\"", false, "192.0.2.77/24", &c);
	unsafe(&c, &s,
	       "tunnel address range 192.0.2.0/24 overlaps this host's LAN subnet "
	       "192.0.2.0/24");
	config_free(&c);
	safety_doc("", false, "192.0.0.5/8", &c);
	unsafe(&c, &s, "tunnel address range 192.0.0.0/8 overlaps");
	config_free(&c);
}

static void test_safety_route_cap(void **state)
{
	(void)state;
	struct config_safety s = {.max_routes = 2};
	struct mg_config c;
	safety_doc("\"10.1.0.0/16\",\"10.2.0.0/16\"", false, "100.96.0.100/11", &c);
	safe(&c, &s);
	config_free(&c);
	safety_doc("\"10.1.0.0/16\",\"10.2.0.0/16\",\"10.3.0.0/16\"", false, "100.96.0.100/11", &c);
	unsafe(&c, &s, "3 routes, more than the limit of 2");
	config_free(&c);
	/* duplicates collapse before the cap is applied */
	safety_doc("\"10.1.0.0/16\",\"10.2.0.0/16\",\"10.1.0.0/16\"", false, "100.96.0.100/11", &c);
	safe(&c, &s);
	config_free(&c);
	/* max_routes 0 means CONFIG_MAX_ROUTES: a hand-built config above it is refused */
	struct config_safety d = {0};
	struct mg_config big = {0};
	big.routes = calloc(CONFIG_MAX_ROUTES + 1, sizeof(*big.routes));
	assert_non_null(big.routes);
	big.n_routes = CONFIG_MAX_ROUTES + 1;
	for (size_t i = 0; i < big.n_routes; i++) {
		big.routes[i] = cidr_of("10.0.0.0/8");
		big.routes[i].addr[1] = (uint8_t)(i >> 8);
		big.routes[i].addr[2] = (uint8_t)i;
		big.routes[i].len = 24;
	}
	big.tunnel.address = cidr_of("100.96.0.0/11");
	char want[96];
	snprintf(want, sizeof(want), "%d routes, more than the limit of %d", MG_LIMIT_ROUTES + 1,
		 MG_LIMIT_ROUTES);
	unsafe(&big, &d, want);
	config_free(&big);
}

/* "ha": role, epoch, lease and the peers' next hops; absent = no HA */
static void test_ha(void **state)
{
	struct mg_config c;
	char doc[1024];
	(void)state;

	parse_ok(min_doc, &c);
	assert_false(c.ha.present);
	config_free(&c);
	snprintf(doc, sizeof(doc), "%.*s,%s}", (int)strlen(min_doc) - 1, min_doc,
		 "\"ha\":{\"role\":\"standby\",\"epoch\":7,\"lease_ms\":3000,\"peers\":["
		 "{\"id\":\"c-1\",\"targets\":[\"i-1\",\"eni-1\",\"10.0.0.5\"]},"
		 "{\"id\":\"c-2\",\"targets\":[]}]}");
	parse_ok(doc, &c);
	assert_true(c.ha.present);
	assert_false(c.ha.active);
	assert_int_equal(c.ha.epoch, 7);
	assert_int_equal(c.ha.lease_ms, 3000);
	assert_int_equal(c.ha.n_peers, 2);
	assert_string_equal(c.ha.peers[0].id, "c-1");
	assert_int_equal(c.ha.peers[0].n_targets, 3);
	assert_string_equal(c.ha.peers[0].targets[1], "eni-1");
	assert_int_equal(c.ha.peers[1].n_targets, 0);
	config_free(&c);

	min_bad("\"ha\":{\"role\":\"leader\",\"epoch\":1,\"lease_ms\":3000}", "ha.role");
	min_bad("\"ha\":{\"role\":\"active\",\"epoch\":-1,\"lease_ms\":3000}", "epoch");
	min_bad("\"ha\":{\"role\":\"active\",\"epoch\":1}", "lease_ms");
	min_bad("\"ha\":{\"role\":\"active\",\"epoch\":1,\"lease_ms\":3000,\"peers\":"
		"[{\"id\":\"c-1\",\"targets\":[\"a b\"]}]}",
		"printable");
	min_bad("\"ha\":{\"role\":\"active\",\"epoch\":1,\"lease_ms\":3000,\"peers\":"
		"[{\"id\":\"c-1\",\"targets\":[\"a\",\"b\",\"c\",\"d\"]}]}",
		"targets");
	min_bad("\"ha\":[]", "ha");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_document),
	    cmocka_unit_test(test_minimal_defaults),
	    cmocka_unit_test(test_ipv6_and_extras),
	    cmocka_unit_test(test_not_a_document),
	    cmocka_unit_test(test_version_and_types),
	    cmocka_unit_test(test_tunnel),
	    cmocka_unit_test(test_address6),
	    cmocka_unit_test(test_bad_cidrs),
	    cmocka_unit_test(test_access),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_split_endpoint),
	    cmocka_unit_test(test_safety),
	    cmocka_unit_test(test_safety_route_cap),
	    cmocka_unit_test(test_ha),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
