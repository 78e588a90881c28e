/* SPDX-License-Identifier: MIT */
/* Unit tests for controller-mock/utf8: well-formedness and the \ufffd repair of answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static bool valid(const char *s)
{
	return utf8_valid(s, strlen(s));
}

static void test_valid(void **state)
{
	(void)state;
	assert_true(valid(""));
	assert_true(valid("plain ascii {\"a\":1}"));
	assert_true(valid("caf\xc3\xa9"));      /* U+00E9 */
	assert_true(valid("\xc2\x80"));         /* U+0080, smallest 2-byte */
	assert_true(valid("\xe0\xa0\x80"));     /* U+0800, smallest 3-byte */
	assert_true(valid("\xed\x9f\xbf"));     /* U+D7FF, below the surrogates */
	assert_true(valid("\xee\x80\x80"));     /* U+E000, above them */
	assert_true(valid("\xef\xbf\xbd"));     /* U+FFFD */
	assert_true(valid("\xf0\x90\x80\x80")); /* U+10000 */
	assert_true(valid("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last */
	assert_true(utf8_valid("a\0b", 3));     /* NUL is a character */
}

static void test_invalid(void **state)
{
	(void)state;
	assert_false(valid("\xff\xfe"));         /* never in UTF-8 */
	assert_false(valid("\x80"));             /* stray continuation */
	assert_false(valid("\xc0\xaf"));         /* overlong '/' */
	assert_false(valid("\xc1\xbf"));         /* overlong */
	assert_false(valid("\xe0\x9f\xbf"));     /* overlong 3-byte */
	assert_false(valid("\xf0\x8f\xbf\xbf")); /* overlong 4-byte */
	assert_false(valid("\xed\xa0\x80"));     /* U+D800, surrogate */
	assert_false(valid("\xed\xbf\xbf"));     /* U+DFFF, surrogate */
	assert_false(valid("\xf4\x90\x80\x80")); /* above U+10FFFF */
	assert_false(valid("\xf5\x80\x80\x80")); /* F5 never */
	assert_false(valid("caf\xc3"));          /* truncated at the end */
	assert_false(valid("\xe2\x82"));         /* truncated 3-byte */
	assert_false(valid("\xe2\x28\xa1"));     /* bad continuation */
	/* the length is respected: a sequence cut by `len` is not read past it */
	assert_false(utf8_valid("\xc3\xa9", 1));
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xf0\x90\x80\x80", 3), 0);
}

static char *repair(const char *s)
{
	size_t n = utf8_json_repaired_len(s, strlen(s));
	char *out = malloc(n + 1);

	assert_non_null(out);
	utf8_json_repair(s, strlen(s), out);
	assert_int_equal(strlen(out), n);
	return out;
}

static void test_repair(void **state)
{
	char *o;

	(void)state;
	o = repair("{\"message\":\"no network \xff\xfe\"}");
	assert_string_equal(o, "{\"message\":\"no network \\ufffd\\ufffd\"}");
	assert_true(valid(o));
	free(o);
	/* good sequences are kept, each bad byte is one replacement */
	o = repair("\"caf\xc3\xa9 \xe2\x82 \xed\xa0\x80 ok\"");
	assert_string_equal(o, "\"caf\xc3\xa9 \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd ok\"");
	free(o);
	/* valid text is unchanged */
	o = repair("{\"a\":\"\xf0\x9f\x98\x80\"}");
	assert_string_equal(o, "{\"a\":\"\xf0\x9f\x98\x80\"}");
	free(o);
	o = repair("");
	assert_string_equal(o, "");
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_repair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
