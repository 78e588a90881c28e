/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/b64: RFC 4648 vectors, strict padding and alphabet rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

/* RFC 4648 §10 */
static const struct {
	const char *plain, *b64, *url;
} vec[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_enc_len(void **state)
{
	(void)state;
	assert_int_equal(b64_enc_len(0), 1);
	assert_int_equal(b64_enc_len(1), 5);
	assert_int_equal(b64_enc_len(2), 5);
	assert_int_equal(b64_enc_len(3), 5);
	assert_int_equal(b64_enc_len(4), 9);
	assert_int_equal(b64_enc_len(32), 45);
}

static void test_rfc4648_std(void **state)
{
	(void)state;
	char out[64];
	uint8_t dec[64];
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i].plain);
		assert_int_equal(b64_encode((const uint8_t *)vec[i].plain, n, out, sizeof(out)), 0);
		assert_string_equal(out, vec[i].b64);
		assert_int_equal(b64_decode(vec[i].b64, dec, sizeof(dec)), (long)n);
		assert_memory_equal(dec, vec[i].plain, n);
	}
}

static void test_rfc4648_url(void **state)
{
	(void)state;
	char out[64];
	uint8_t dec[64];
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i].plain);
		assert_int_equal(b64url_encode((const uint8_t *)vec[i].plain, n, out, sizeof(out)),
				 0);
		assert_string_equal(out, vec[i].url);
		assert_int_equal(b64url_decode(vec[i].url, dec, sizeof(dec)), (long)n);
		assert_memory_equal(dec, vec[i].plain, n);
	}
}

static void test_alphabets(void **state)
{
	(void)state;
	/* 0xfb 0xff 0xbf uses both characters that differ between the alphabets */
	const uint8_t in[] = {0xfb, 0xff, 0xbf, 0xfe};
	char out[16];
	uint8_t dec[8];
	assert_int_equal(b64_encode(in, sizeof(in), out, sizeof(out)), 0);
	assert_string_equal(out, "+/+//g==");
	assert_int_equal(b64url_encode(in, sizeof(in), out, sizeof(out)), 0);
	assert_string_equal(out, "-_-__g");
	assert_int_equal(b64url_decode("-_-__g", dec, sizeof(dec)), 4);
	assert_memory_equal(dec, in, 4);
	assert_int_equal(b64_decode("+/+//g==", dec, sizeof(dec)), 4);
	assert_memory_equal(dec, in, 4);
	/* each decoder refuses the other's alphabet */
	assert_int_equal(b64_decode("-_-__g==", dec, sizeof(dec)), -1);
	assert_int_equal(b64url_decode("+/+//g", dec, sizeof(dec)), -1);
	assert_int_equal(b64url_decode("+/+//g==", dec, sizeof(dec)), -1);
}

static void test_all_bytes_roundtrip(void **state)
{
	(void)state;
	uint8_t in[256], dec[256];
	char out[400];
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (size_t n = 0; n <= sizeof(in); n += 1 + n / 8) {
		assert_int_equal(b64_encode(in, n, out, sizeof(out)), 0);
		assert_int_equal(strlen(out), b64_enc_len(n) - 1);
		assert_int_equal(b64_decode(out, dec, sizeof(dec)), (long)n);
		assert_memory_equal(dec, in, n);
		assert_int_equal(b64url_encode(in, n, out, sizeof(out)), 0);
		assert_null(strchr(out, '='));
		assert_null(strchr(out, '+'));
		assert_null(strchr(out, '/'));
		assert_int_equal(b64url_decode(out, dec, sizeof(dec)), (long)n);
		assert_memory_equal(dec, in, n);
	}
}

static void test_padding_rules(void **state)
{
	(void)state;
	uint8_t d[16];
	static const char *const bad_std[] = {
	    "Zg",  /* padding required */
	    "Zg=", /* short padding */
	    "Zm8",   "Z",      "Zg===",   "====",
	    "=Zg=",  "Z=g=",   "Zm=v",    "Zg==Zg==", /* padding in the middle */
	    "Zm9v=", "Zm9vY",  "Zm9vYg=", "Zg== ",
	    " Zg==", "Zm9v\n", "Zm 9v",   "Zm9vYmFy\r\n",
	};
	for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
		if (b64_decode(bad_std[i], d, sizeof(d)) != -1)
			fail_msg("b64_decode accepted \"%s\"", bad_std[i]);
	static const char *const bad_url[] = {
	    "Zg==",                          /* padding is not allowed in the url form */
	    "Zg=",  "Zm8=", "Z",    "Zm9vY", /* length 1 mod 4 */
	    "Zg ",  " Zg",  "Zm\n", "Zm9v!", "Zm9v.", "Zm9v*", "Zm:v",
	};
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
		if (b64url_decode(bad_url[i], d, sizeof(d)) != -1)
			fail_msg("b64url_decode accepted \"%s\"", bad_url[i]);
}

static void test_bad_alphabet(void **state)
{
	(void)state;
	uint8_t d[16];
	char s[5] = "Zm9v";
	/* every byte outside the alphabet is refused in every position */
	for (int c = 1; c < 256; c++) {
		bool std = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || c == '+' || c == '/';
		bool url = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_';
		for (int pos = 0; pos < 4; pos++) {
			memcpy(s, "Zm9v", 5);
			s[pos] = (char)c;
			if (c == '=')
				; /* padding: see test_padding_rules */
			else if (!std)
				assert_int_equal(b64_decode(s, d, sizeof(d)), -1);
			else
				assert_int_equal(b64_decode(s, d, sizeof(d)), 3);
			if (!url)
				assert_int_equal(b64url_decode(s, d, sizeof(d)), -1);
			else
				assert_int_equal(b64url_decode(s, d, sizeof(d)), 3);
		}
	}
}

static void test_buffer_limits(void **state)
{
	(void)state;
	uint8_t d[6];
	char out[9];
	const uint8_t in[6] = "foobar";
	/* encode: exactly enough, and one short */
	assert_int_equal(b64_encode(in, 6, out, 9), 0);
	assert_string_equal(out, "Zm9vYmFy");
	assert_int_equal(b64_encode(in, 6, out, 8), -1);
	assert_int_equal(b64url_encode(in, 6, out, 9), 0);
	assert_int_equal(b64url_encode(in, 6, out, 8), -1);
	/* decode: the exact size fits, one byte less is refused */
	assert_int_equal(b64_decode("Zm9vYmFy", d, 6), 6);
	assert_int_equal(b64_decode("Zm9vYmFy", d, 5), -1);
	assert_int_equal(b64_decode("Zm9vYg==", d, 4), 4);
	assert_int_equal(b64_decode("Zm9vYg==", d, 3), -1);
	assert_int_equal(b64url_decode("Zm9vYg", d, 4), 4);
	assert_int_equal(b64url_decode("Zm9vYg", d, 3), -1);
	assert_int_equal(b64_decode("", d, 0), 0);
	assert_int_equal(b64url_decode("", d, 0), 0);
}

static void test_large(void **state)
{
	(void)state;
	size_t n = 100000;
	uint8_t *in = malloc(n), *dec = malloc(n);
	char *out = malloc(b64_enc_len(n));
	assert_non_null(in);
	assert_non_null(dec);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)(i * 131 + 7);
	assert_int_equal(b64url_encode(in, n, out, b64_enc_len(n)), 0);
	assert_int_equal(b64url_decode(out, dec, n), (long)n);
	assert_memory_equal(in, dec, n);
	free(in);
	free(dec);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_enc_len),
	    cmocka_unit_test(test_rfc4648_std),
	    cmocka_unit_test(test_rfc4648_url),
	    cmocka_unit_test(test_alphabets),
	    cmocka_unit_test(test_all_bytes_roundtrip),
	    cmocka_unit_test(test_padding_rules),
	    cmocka_unit_test(test_bad_alphabet),
	    cmocka_unit_test(test_buffer_limits),
	    cmocka_unit_test(test_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
