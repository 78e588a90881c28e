/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/jsonu: bounded parsing and typed getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

static cJSON *parse_ok(const char *s)
{
	mg_err e = {{0}};
	cJSON *j = jsonu_parse(s, strlen(s), 1 << 20, &e);
	if (!j)
		fail_msg("jsonu_parse(%s): %s", s, e.msg);
	return j;
}

static void parse_bad(const char *s, size_t len, size_t max, const char *needle)
{
	mg_err e = {{0}};
	cJSON *j = jsonu_parse(s, len, max, &e);
	if (j) {
		cJSON_Delete(j);
		fail_msg("jsonu_parse accepted %.*s", (int)len, s);
	}
	assert_contains(e.msg, needle);
}

static void test_parse_ok(void **state)
{
	(void)state;
	cJSON *j = parse_ok("{}");
	cJSON_Delete(j);
	j = parse_ok("  {\"a\": [1, 2, {\"b\": null}]}\r\n\t ");
	cJSON_Delete(j);
	/* the length bounds the parse: what follows is never looked at */
	const char *s = "{\"a\":1}GARBAGE";
	mg_err e = {{0}};
	j = jsonu_parse(s, 7, 100, &e);
	assert_non_null(j);
	cJSON_Delete(j);
}

static void test_size_cap(void **state)
{
	(void)state;
	const char *s = "{\"a\":\"0123456789\"}";
	size_t n = strlen(s);
	mg_err e = {{0}};
	cJSON *j = jsonu_parse(s, n, n, &e); /* exactly at the cap */
	assert_non_null(j);
	cJSON_Delete(j);
	parse_bad(s, n, n - 1, "larger than");
	parse_bad(s, 0, 10, "empty");
}

static void test_depth_cap(void **state)
{
	(void)state;
	char buf[256];
	size_t n = 0;
	/* exactly JSONU_MAX_DEPTH levels: accepted */
	buf[n++] = '{';
	buf[n++] = '"';
	buf[n++] = 'a';
	buf[n++] = '"';
	buf[n++] = ':';
	for (int i = 1; i < JSONU_MAX_DEPTH; i++)
		buf[n++] = '[';
	for (int i = 1; i < JSONU_MAX_DEPTH; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n] = '\0';
	cJSON *j = parse_ok(buf);
	cJSON_Delete(j);
	/* one more: refused before cJSON recurses */
	memmove(buf + 6, buf + 5, n - 5 + 1);
	buf[5] = '[';
	n++;
	memmove(buf + n - 1, buf + n - 2, 3);
	buf[n - 2] = ']';
	n++;
	buf[n] = '\0';
	parse_bad(buf, n, sizeof(buf), "nested deeper");
	/* brackets inside strings do not count */
	char s[200];
	snprintf(s, sizeof(s), "{\"a\":\"%s\",\"b\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}",
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
	j = parse_ok(s);
	cJSON_Delete(j);
	/* very deep input fails fast without recursion */
	size_t big = 100000;
	char *deep = malloc(big);
	assert_non_null(deep);
	memset(deep, '[', big);
	deep[0] = '{';
	parse_bad(deep, big, big, "nested deeper");
	free(deep);
}

static void test_trailing_and_nul(void **state)
{
	(void)state;
	parse_bad("{} {}", 5, 100, "trailing data");
	parse_bad("{}x", 3, 100, "trailing data");
	parse_bad("{},", 3, 100, "trailing data");
	parse_bad("{\"a\":1}\0", 8, 100, "NUL byte");
	parse_bad("{\"a\":\"x\0y\"}", 11, 100, "NUL byte");
	parse_bad("{\"a\":", 5, 100, "malformed JSON");
	parse_bad("{'a':1}", 7, 100, "malformed JSON");
	parse_bad("{\"a\":1,}", 8, 100, "malformed JSON");
	parse_bad("nope", 4, 100, "malformed JSON");
	parse_bad("   ", 3, 100, "malformed JSON");
}

static void test_duplicate_keys(void **state)
{
	mg_err e = {""};
	static const char *bad[] = {
	    "{\"a\":1,\"a\":2}",
	    "{\"a\":1,\"b\":{\"c\":1,\"d\":2,\"c\":3}}",
	    "{\"a\":[{\"x\":1},{\"y\":1,\"y\":2}]}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *j = jsonu_parse(bad[i], strlen(bad[i]), 1024, &e);
		assert_null(j);
		assert_non_null(strstr(e.msg, "appears twice"));
	}
	/* the same key in sibling objects is fine */
	const char *ok = "{\"a\":[{\"x\":1},{\"x\":2}],\"b\":{\"x\":3}}";
	cJSON *j = jsonu_parse(ok, strlen(ok), 1024, &e);
	assert_non_null(j);
	cJSON_Delete(j);
}

static void test_root_object(void **state)
{
	(void)state;
	parse_bad("[]", 2, 100, "must be an object");
	parse_bad("1", 1, 100, "must be an object");
	parse_bad("\"x\"", 3, 100, "must be an object");
	parse_bad("null", 4, 100, "must be an object");
	parse_bad("true", 4, 100, "must be an object");
}

static void test_get_str(void **state)
{
	(void)state;
	cJSON *j = parse_ok("{\"s\":\"hello\",\"n\":1,\"z\":null,\"e\":\"\"}");
	const char *s = "unchanged";
	mg_err e = {{0}};
	assert_int_equal(jsonu_get_str(j, "s", true, 5, &s, &e), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(jsonu_get_str(j, "s", true, 4, &s, &e), -1);
	assert_contains(e.msg, "\"s\" is longer than 4");
	assert_int_equal(jsonu_get_str(j, "n", true, 10, &s, &e), -1);
	assert_contains(e.msg, "\"n\" must be a string");
	assert_int_equal(jsonu_get_str(j, "n", false, 10, &s, &e), -1);
	s = "unchanged";
	assert_int_equal(jsonu_get_str(j, "missing", false, 10, &s, &e), 0);
	assert_string_equal(s, "unchanged");
	assert_int_equal(jsonu_get_str(j, "z", false, 10, &s, &e), 0);
	assert_string_equal(s, "unchanged");
	assert_int_equal(jsonu_get_str(j, "missing", true, 10, &s, &e), -1);
	assert_contains(e.msg, "\"missing\" is required");
	assert_int_equal(jsonu_get_str(j, "z", true, 10, &s, &e), -1);
	assert_contains(e.msg, "\"z\" is required");
	assert_int_equal(jsonu_get_str(j, "e", true, 0, &s, &e), 0);
	assert_string_equal(s, "");
	/* keys are case-sensitive */
	assert_int_equal(jsonu_get_str(j, "S", true, 10, &s, &e), -1);
	cJSON_Delete(j);
}

static void test_copy_str(void **state)
{
	(void)state;
	cJSON *j = parse_ok("{\"s\":\"hello\"}");
	char buf[6] = "xxxxx";
	mg_err e = {{0}};
	assert_int_equal(jsonu_copy_str(j, "s", true, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "hello");
	char small[5] = "abcd";
	assert_int_equal(jsonu_copy_str(j, "s", true, small, sizeof(small), &e), -1);
	assert_contains(e.msg, "longer than 4");
	assert_string_equal(small, "abcd");
	assert_int_equal(jsonu_copy_str(j, "nope", false, small, sizeof(small), &e), 0);
	assert_string_equal(small, "abcd");
	cJSON_Delete(j);
}

static void test_get_int(void **state)
{
	(void)state;
	cJSON *j = parse_ok("{\"i\":42,\"neg\":-7,\"f\":1.5,\"exp\":1e3,\"big\":1e400,"
			    "\"s\":\"42\",\"b\":true,\"zero\":-0,\"huge\":9223372036854775808,"
			    "\"p62\":4611686018427387904,\"m63\":-9223372036854775808,"
			    "\"m64\":-18446744073709551616}");
	int64_t v = 99;
	mg_err e = {{0}};
	assert_int_equal(jsonu_get_int(j, "i", true, 0, 100, &v, &e), 0);
	assert_int_equal(v, 42);
	assert_int_equal(jsonu_get_int(j, "i", true, 42, 42, &v, &e), 0);
	assert_int_equal(jsonu_get_int(j, "i", true, 43, 100, &v, &e), -1);
	assert_contains(e.msg, "\"i\" must be between 43 and 100");
	assert_int_equal(jsonu_get_int(j, "i", true, 0, 41, &v, &e), -1);
	assert_contains(e.msg, "between 0 and 41");
	assert_int_equal(jsonu_get_int(j, "neg", true, -10, 10, &v, &e), 0);
	assert_int_equal(v, -7);
	assert_int_equal(jsonu_get_int(j, "neg", true, 0, 10, &v, &e), -1);
	assert_int_equal(jsonu_get_int(j, "f", true, 0, 10, &v, &e), -1);
	assert_contains(e.msg, "\"f\" must be an integer");
	assert_int_equal(jsonu_get_int(j, "exp", true, 0, 1000, &v, &e), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(jsonu_get_int(j, "big", true, INT64_MIN, INT64_MAX, &v, &e), -1);
	assert_int_equal(jsonu_get_int(j, "s", true, 0, 100, &v, &e), -1);
	assert_contains(e.msg, "\"s\" must be a number");
	assert_int_equal(jsonu_get_int(j, "b", true, 0, 100, &v, &e), -1);
	assert_contains(e.msg, "must be a number");
	assert_int_equal(jsonu_get_int(j, "zero", true, 0, 0, &v, &e), 0);
	assert_int_equal(v, 0);
	v = 5;
	assert_int_equal(jsonu_get_int(j, "missing", false, 0, 1, &v, &e), 0);
	assert_int_equal(v, 5);
	assert_int_equal(jsonu_get_int(j, "missing", true, 0, 1, &v, &e), -1);
	assert_contains(e.msg, "\"missing\" is required");
	/* 2^63 does not fit an int64_t: out of range, not undefined behaviour */
	v = 5;
	assert_int_equal(jsonu_get_int(j, "huge", true, INT64_MIN, INT64_MAX, &v, &e), -1);
	assert_int_equal(v, 5);
	/* 2^62 is above INT64_MAX / 2 even though both round to the same double */
	assert_int_equal(jsonu_get_int(j, "p62", true, 1, INT64_MAX / 2, &v, &e), -1);
	assert_contains(e.msg, "must be between");
	/* -2^63 is INT64_MIN exactly */
	assert_int_equal(jsonu_get_int(j, "m63", true, INT64_MIN, 0, &v, &e), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(jsonu_get_int(j, "m64", true, INT64_MIN, INT64_MAX, &v, &e), -1);
	cJSON_Delete(j);
}

static void test_get_bool(void **state)
{
	(void)state;
	cJSON *j = parse_ok("{\"t\":true,\"f\":false,\"n\":1,\"s\":\"true\"}");
	bool b = false;
	mg_err e = {{0}};
	assert_int_equal(jsonu_get_bool(j, "t", true, &b, &e), 0);
	assert_true(b);
	assert_int_equal(jsonu_get_bool(j, "f", true, &b, &e), 0);
	assert_false(b);
	assert_int_equal(jsonu_get_bool(j, "n", true, &b, &e), -1);
	assert_contains(e.msg, "\"n\" must be true or false");
	assert_int_equal(jsonu_get_bool(j, "s", false, &b, &e), -1);
	b = true;
	assert_int_equal(jsonu_get_bool(j, "missing", false, &b, &e), 0);
	assert_true(b);
	assert_int_equal(jsonu_get_bool(j, "missing", true, &b, &e), -1);
	cJSON_Delete(j);
}

static void test_get_array_object(void **state)
{
	(void)state;
	cJSON *j = parse_ok("{\"a\":[1,2,3],\"e\":[],\"o\":{\"x\":1},\"s\":\"x\"}");
	const cJSON *a = NULL, *o = NULL;
	mg_err e = {{0}};
	assert_int_equal(jsonu_get_array(j, "a", true, 3, &a, &e), 0);
	assert_int_equal(cJSON_GetArraySize(a), 3);
	assert_int_equal(jsonu_get_array(j, "a", true, 2, &a, &e), -1);
	assert_contains(e.msg, "\"a\" has more than 2 entries");
	assert_int_equal(jsonu_get_array(j, "e", true, 0, &a, &e), 0);
	assert_int_equal(jsonu_get_array(j, "o", true, 10, &a, &e), -1);
	assert_contains(e.msg, "\"o\" must be an array");
	a = NULL;
	assert_int_equal(jsonu_get_array(j, "missing", false, 10, &a, &e), 0);
	assert_null(a);
	assert_int_equal(jsonu_get_array(j, "missing", true, 10, &a, &e), -1);
	assert_int_equal(jsonu_get_object(j, "o", true, &o, &e), 0);
	assert_non_null(o);
	assert_int_equal(jsonu_get_object(j, "a", true, &o, &e), -1);
	assert_contains(e.msg, "\"a\" must be an object");
	assert_int_equal(jsonu_get_object(j, "s", false, &o, &e), -1);
	o = NULL;
	assert_int_equal(jsonu_get_object(j, "missing", false, &o, &e), 0);
	assert_null(o);
	assert_int_equal(jsonu_get_object(j, "missing", true, &o, &e), -1);
	assert_contains(e.msg, "\"missing\" is required");
	cJSON_Delete(j);
}

static void test_only_keys(void **state)
{
	(void)state;
	static const char *const known[] = {"url", "token", "pin", NULL};
	static const char *const none[] = {NULL};
	mg_err e = {{0}};
	cJSON *j = parse_ok("{\"url\":1,\"pin\":2}");
	assert_int_equal(jsonu_only_keys(j, known, "thing", &e), 0);
	cJSON_Delete(j);
	j = parse_ok("{}");
	assert_int_equal(jsonu_only_keys(j, none, "thing", &e), 0);
	cJSON_Delete(j);
	j = parse_ok("{\"url\":1,\"tokn\":2}");
	assert_int_equal(jsonu_only_keys(j, known, "thing", &e), -1);
	assert_contains(e.msg, "thing: unknown field \"tokn\"");
	cJSON_Delete(j);
	j = parse_ok("{\"URL\":1}");
	assert_int_equal(jsonu_only_keys(j, known, "thing", &e), -1);
	assert_contains(e.msg, "\"URL\"");
	cJSON_Delete(j);
	/* a very long unknown key is named, truncated */
	char s[600];
	memset(s, 'k', sizeof(s));
	memcpy(s, "{\"", 2);
	memcpy(s + sizeof(s) - 6, "\":1}", 5);
	j = parse_ok(s);
	assert_int_equal(jsonu_only_keys(j, known, "thing", &e), -1);
	assert_contains(e.msg, "unknown field \"kkkk");
	assert_true(strlen(e.msg) < 120);
	cJSON_Delete(j);
}

static void test_print(void **state)
{
	(void)state;
	mg_err e = {{0}};
	cJSON *j = parse_ok("{ \"a\" : [ 1 , \"x\" ] }");
	char *s = jsonu_print(j, &e);
	assert_non_null(s);
	assert_string_equal(s, "{\"a\":[1,\"x\"]}");
	cJSON_free(s);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_depth_cap),
	    cmocka_unit_test(test_trailing_and_nul),
	    cmocka_unit_test(test_duplicate_keys),
	    cmocka_unit_test(test_root_object),
	    cmocka_unit_test(test_get_str),
	    cmocka_unit_test(test_copy_str),
	    cmocka_unit_test(test_get_int),
	    cmocka_unit_test(test_get_bool),
	    cmocka_unit_test(test_get_array_object),
	    cmocka_unit_test(test_only_keys),
	    cmocka_unit_test(test_print),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
