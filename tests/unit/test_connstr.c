/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/connstr: format/parse round trip and strict rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "connstr.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

#define PIN   "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define TOKEN "tok_0123456789abcdef-XYZ"
#define URL   "https://ctl.example.net:8443"

static struct connstr good(void)
{
	struct connstr c;
	memset(&c, 0, sizeof(c));
	snprintf(c.url, sizeof(c.url), "%s", URL);
	snprintf(c.token, sizeof(c.token), "%s", TOKEN);
	snprintf(c.pin, sizeof(c.pin), "%s", PIN);
	return c;
}

/* "mg1:" + base64url(json), the json given verbatim. */
static void wrap(const char *json, char *out, size_t outlen)
{
	memcpy(out, CONNSTR_PREFIX, 4);
	assert_int_equal(b64url_encode((const uint8_t *)json, strlen(json), out + 4, outlen - 4),
			 0);
}

static void parse_ok(const char *s, struct connstr *c)
{
	mg_err e = {{0}};
	if (connstr_parse(s, c, &e) < 0)
		fail_msg("connstr_parse(%s): %s", s, e.msg);
}

static void parse_bad(const char *s, const char *needle)
{
	struct connstr c;
	mg_err e = {{0}};
	if (connstr_parse(s, &c, &e) == 0)
		fail_msg("connstr_parse accepted %s", s);
	assert_contains(e.msg, needle);
}

static void json_bad(const char *json, const char *needle)
{
	char s[CONNSTR_MAX * 2];
	wrap(json, s, sizeof(s));
	parse_bad(s, needle);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct connstr c = good(), d;
	char s[CONNSTR_MAX];
	mg_err e = {{0}};
	assert_int_equal(connstr_format(&c, s, sizeof(s), &e), 0);
	assert_true(strncmp(s, "mg1:", 4) == 0);
	/* one pasteable line: base64url only, no padding */
	for (const char *p = s + 4; *p; p++)
		assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');
	parse_ok(s, &d);
	assert_string_equal(d.url, URL);
	assert_string_equal(d.token, TOKEN);
	assert_string_equal(d.pin, PIN);

	/* IPv6 literal, no port, trailing slash, and the smallest/largest tokens */
	const char *urls[] = {"https://[2001:db8::1]:443", "https://ctl",     "https://10.0.0.1/",
			      "https://a-b.c-d.example:1", "https://h:65535", "https://[::1]"};
	for (size_t i = 0; i < MG_ARRAY_SIZE(urls); i++) {
		c = good();
		snprintf(c.url, sizeof(c.url), "%s", urls[i]);
		assert_int_equal(connstr_format(&c, s, sizeof(s), &e), 0);
		parse_ok(s, &d);
		assert_string_equal(c.url, d.url);
		assert_string_equal(c.token, d.token);
		assert_string_equal(c.pin, d.pin);
	}
	c = good();
	memset(c.token, 'a', 16);
	c.token[16] = '\0';
	assert_int_equal(connstr_format(&c, s, sizeof(s), &e), 0);
	parse_ok(s, &d);
	assert_string_equal(d.token, c.token);
	memset(c.token, 'Z', CONNSTR_TOKEN_MAX - 1);
	c.token[CONNSTR_TOKEN_MAX - 1] = '\0';
	assert_int_equal(connstr_format(&c, s, sizeof(s), &e), 0);
	parse_ok(s, &d);
	assert_string_equal(d.token, c.token);
}

static void test_whitespace(void **state)
{
	(void)state;
	struct connstr c = good(), d;
	char s[CONNSTR_MAX], padded[CONNSTR_MAX + 64];
	mg_err e = {{0}};
	assert_int_equal(connstr_format(&c, s, sizeof(s), &e), 0);
	snprintf(padded, sizeof(padded), "  \t%s\r\n \n", s);
	parse_ok(padded, &d);
	assert_string_equal(d.token, TOKEN);
	snprintf(padded, sizeof(padded), "\n%s", s);
	parse_ok(padded, &d);
	/* whitespace inside is damage, not padding */
	size_t n = strlen(s);
	snprintf(padded, sizeof(padded), "%.*s %s", (int)(n / 2), s, s + n / 2);
	parse_bad(padded, "not valid base64url");
	snprintf(padded, sizeof(padded), "%.*s\n%s", (int)(n / 2), s, s + n / 2);
	parse_bad(padded, "not valid base64url");
	parse_bad("   \t\n ", "empty");
	parse_bad("", "empty");
	struct connstr x;
	assert_int_equal(connstr_parse(NULL, &x, &e), -1);
	assert_contains(e.msg, "empty");
}

static void test_garbage(void **state)
{
	(void)state;
	struct connstr c = good();
	char s[CONNSTR_MAX], t[CONNSTR_MAX + 8];
	mg_err e = {{0}};
	assert_int_equal(connstr_format(&c, s, sizeof(s), &e), 0);

	/* wrong prefix */
	parse_bad("mg2:abcd", "must start with \"mg1:\"");
	parse_bad("MG1:abcd", "must start with \"mg1:\"");
	parse_bad("mg1", "must start with");
	parse_bad(s + 1, "must start with");
	parse_bad("https://ctl.example.net:8443", "must start with");
	snprintf(t, sizeof(t), "x%s", s);
	parse_bad(t, "must start with");
	/* nothing after the prefix */
	parse_bad("mg1:", "not valid base64url");
	/* bad base64url: standard alphabet, padding, stray characters, bad length */
	parse_bad("mg1:eyJ1cmwiOiJodHRwczovL2EifQ==", "not valid base64url");
	parse_bad("mg1:e+J1", "not valid base64url");
	parse_bad("mg1:e/J1", "not valid base64url");
	parse_bad("mg1:eyJ1c", "not valid base64url");
	parse_bad("mg1:eyJ1*mwi", "not valid base64url");
	/* truncated in the middle of pasting */
	snprintf(t, sizeof(t), "%.*s", (int)strlen(s) - 7, s);
	parse_bad(t, "damaged");
	/* decodes, but is not JSON / not an object */
	json_bad("hello world", "malformed JSON");
	json_bad("[\"" URL "\"]", "must be an object");
	json_bad("{\"url\":\"" URL "\"", "malformed JSON");
	json_bad("{} trailing", "trailing data");
	/* too long */
	char *big = malloc(CONNSTR_MAX + 16);
	assert_non_null(big);
	memcpy(big, "mg1:", 4);
	memset(big + 4, 'A', CONNSTR_MAX + 8);
	big[CONNSTR_MAX + 12] = '\0';
	parse_bad(big, "longer than");
	free(big);
}

static void test_fields(void **state)
{
	(void)state;
	/* missing fields */
	json_bad("{\"token\":\"" TOKEN "\",\"pin\":\"" PIN "\"}", "\"url\" is required");
	json_bad("{\"url\":\"" URL "\",\"pin\":\"" PIN "\"}", "\"token\" is required");
	json_bad("{\"url\":\"" URL "\",\"token\":\"" TOKEN "\"}", "\"pin\" is required");
	json_bad("{}", "is required");
	/* unknown fields: typos must not pass */
	json_bad("{\"url\":\"" URL "\",\"token\":\"" TOKEN "\",\"pin\":\"" PIN "\",\"ca\":\"x\"}",
		 "unknown field \"ca\"");
	json_bad("{\"url\":\"" URL "\",\"tokn\":\"" TOKEN "\",\"pin\":\"" PIN "\"}",
		 "unknown field \"tokn\"");
	/* wrong types */
	json_bad("{\"url\":1,\"token\":\"" TOKEN "\",\"pin\":\"" PIN "\"}",
		 "\"url\" must be a string");
	json_bad("{\"url\":\"" URL "\",\"token\":[],\"pin\":\"" PIN "\"}", "must be a string");
	json_bad("{\"url\":\"" URL "\",\"token\":\"" TOKEN "\",\"pin\":null}",
		 "\"pin\" is required");
}

static void url_bad(const char *url, const char *needle)
{
	char json[1024];
	mg_err e = {{0}};
	snprintf(json, sizeof(json), "{\"url\":\"%s\",\"token\":\"" TOKEN "\",\"pin\":\"" PIN "\"}",
		 url);
	json_bad(json, needle);
	/* the validator and the formatter agree */
	assert_int_equal(connstr_check_url(url, &e), -1);
	struct connstr c = good();
	char s[CONNSTR_MAX];
	snprintf(c.url, sizeof(c.url), "%s", url);
	assert_int_equal(connstr_format(&c, s, sizeof(s), &e), -1);
}

static void test_url(void **state)
{
	(void)state;
	url_bad("http://ctl.example.net", "must start with https://");
	url_bad("HTTPS://ctl.example.net", "must start with https://");
	url_bad("ftp://ctl.example.net", "must start with https://");
	url_bad("ctl.example.net:8443", "must start with https://");
	url_bad("https://", "no host");
	url_bad("https://:8443", "no host");
	url_bad("https:///path", "no host");
	url_bad("https://ctl.example.net/api/v1", "no path");
	url_bad("https://ctl.example.net/?x=1", "no path");
	url_bad("https://ctl.example.net:8443/api", "no path");
	url_bad("https://user@ctl.example.net", "bad character in host");
	url_bad("https://user:pw@ctl.example.net", "bad port");
	url_bad("https://ctl.example.net?x=1", "bad character in host");
	url_bad("https://ctl.example.net#frag", "bad character in host");
	url_bad("https://ctl_example.net", "bad character in host");
	url_bad("https://ctl.example.net:", "bad port");
	url_bad("https://ctl.example.net:0", "bad port");
	url_bad("https://ctl.example.net:08443", "bad port");
	url_bad("https://ctl.example.net:65536", "bad port");
	url_bad("https://ctl.example.net:-1", "bad port");
	url_bad("https://ctl.example.net:+443", "bad port");
	url_bad("https://ctl.example.net:443x", "bad port");
	url_bad("https://ctl.example.net:99999999999999999999", "bad port");
	url_bad("https://[2001:db8::1", "bad IPv6 literal");
	url_bad("https://[192.0.2.1]:443", "bad IPv6 literal");
	url_bad("https://[]:443", "bad IPv6 literal");
	url_bad("https://[::1]x", "no path");
	url_bad("https://[::1]:0", "bad port");

	mg_err e = {{0}};
	char longurl[CONNSTR_URL_MAX + 16];
	memcpy(longurl, "https://", 8);
	memset(longurl + 8, 'a', CONNSTR_URL_MAX);
	longurl[CONNSTR_URL_MAX + 8] = '\0';
	assert_int_equal(connstr_check_url(longurl, &e), -1);
	assert_contains(e.msg, "too long");
	assert_int_equal(connstr_check_url(NULL, &e), -1);
	assert_int_equal(connstr_check_url("https://ctl.example.net:8443/", &e), 0);
}

static void token_bad(const char *token, const char *needle)
{
	char json[1024];
	mg_err e = {{0}};
	snprintf(json, sizeof(json), "{\"url\":\"" URL "\",\"token\":\"%s\",\"pin\":\"" PIN "\"}",
		 token);
	json_bad(json, needle);
	assert_int_equal(connstr_check_token(token, &e), -1);
}

static void test_token(void **state)
{
	(void)state;
	mg_err e = {{0}};
	token_bad("", "16 to 127 characters");
	token_bad("short", "16 to 127 characters");
	token_bad("0123456789abcde", "16 to 127 characters"); /* 15 */
	token_bad("0123456789abcdef!", "outside [A-Za-z0-9_-]");
	token_bad("0123456789 abcdef", "outside");
	token_bad("0123456789abcdef=", "outside");
	token_bad("0123456789abcdé", "outside");
	assert_int_equal(connstr_check_token("0123456789abcdef", &e), 0);
	assert_int_equal(connstr_check_token(NULL, &e), -1);
	char t[CONNSTR_TOKEN_MAX + 1];
	memset(t, 'a', CONNSTR_TOKEN_MAX);
	t[CONNSTR_TOKEN_MAX] = '\0';
	assert_int_equal(connstr_check_token(t, &e), -1); /* 128 */
	token_bad(t, "token");
	t[CONNSTR_TOKEN_MAX - 1] = '\0';
	assert_int_equal(connstr_check_token(t, &e), 0); /* 127 */
}

static void pin_bad(const char *pin, const char *needle)
{
	char json[1024];
	mg_err e = {{0}};
	snprintf(json, sizeof(json), "{\"url\":\"" URL "\",\"token\":\"" TOKEN "\",\"pin\":\"%s\"}",
		 pin);
	json_bad(json, needle);
	assert_int_equal(connstr_check_pin(pin, &e), -1);
}

static void test_pin(void **state)
{
	(void)state;
	mg_err e = {{0}};
	assert_int_equal(connstr_check_pin(PIN, &e), 0);
	pin_bad("", "sha256//");
	pin_bad("sha1//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "sha256//");
	pin_bad("SHA256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "sha256//");
	pin_bad("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "sha256//");
	pin_bad("sha256//", "32-byte");
	pin_bad("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", "32-byte");
	pin_bad("sha256//47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", "32-byte");
	pin_bad("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF==", "32-byte");
	pin_bad("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA", "32-byte");
	pin_bad("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;sha256//47DEQpj8HBSa+/"
		"TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"32-byte");
	assert_int_equal(connstr_check_pin(NULL, &e), -1);
}

static void test_format_errors(void **state)
{
	(void)state;
	struct connstr c = good();
	char s[CONNSTR_MAX];
	mg_err e = {{0}};
	/* too small a buffer is an error, not an overflow */
	assert_int_equal(connstr_format(&c, s, 20, &e), -1);
	assert_contains(e.msg, "too small");
	snprintf(c.token, sizeof(c.token), "bad token!");
	assert_int_equal(connstr_format(&c, s, sizeof(s), &e), -1);
	assert_contains(e.msg, "token");
	c = good();
	snprintf(c.pin, sizeof(c.pin), "nope");
	assert_int_equal(connstr_format(&c, s, sizeof(s), &e), -1);
	assert_contains(e.msg, "pin");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_whitespace),
	    cmocka_unit_test(test_garbage),   cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_url),       cmocka_unit_test(test_token),
	    cmocka_unit_test(test_pin),       cmocka_unit_test(test_format_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
