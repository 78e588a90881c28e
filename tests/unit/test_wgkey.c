/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/wgkey: RFC 7748 X25519 vectors, key encodings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "wgkey.h"

/* RFC 7748 §6.1 */
static const char alice_priv[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pub[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_priv[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pub[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";

static void check_vector(const char *priv_hex, const char *pub_hex)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	char hex[WG_KEY_HEX_LEN];
	mg_err e = {{0}};
	assert_int_equal(wgkey_from_hex(priv_hex, priv), 0);
	assert_int_equal(wgkey_public(priv, pub, &e), 0);
	wgkey_to_hex(pub, hex);
	assert_string_equal(hex, pub_hex);
}

static void test_rfc7748(void **state)
{
	(void)state;
	check_vector(alice_priv, alice_pub);
	check_vector(bob_priv, bob_pub);
}

static void test_generate(void **state)
{
	(void)state;
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN], pa[WG_KEY_LEN];
	mg_err e = {{0}};
	assert_int_equal(wgkey_generate(a, &e), 0);
	assert_int_equal(wgkey_generate(b, &e), 0);
	assert_memory_not_equal(a, b, WG_KEY_LEN);
	/* clamped as RFC 7748 §5 decodes scalars */
	assert_int_equal(a[0] & 7, 0);
	assert_int_equal(a[31] & 128, 0);
	assert_int_equal(a[31] & 64, 64);
	assert_int_equal(wgkey_public(a, pa, &e), 0);
	assert_memory_not_equal(a, pa, WG_KEY_LEN);
}

static void test_base64(void **state)
{
	(void)state;
	uint8_t k[WG_KEY_LEN], k2[WG_KEY_LEN];
	char b[WG_KEY_B64_LEN];
	assert_int_equal(wgkey_from_hex(alice_pub, k), 0);
	wgkey_to_base64(k, b);
	assert_int_equal(strlen(b), 44);
	assert_string_equal(b, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
	assert_int_equal(wgkey_from_base64(b, k2), 0);
	assert_memory_equal(k, k2, WG_KEY_LEN);
	memset(k, 0, sizeof(k));
	wgkey_to_base64(k, b);
	assert_string_equal(b, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	memset(k, 0xff, sizeof(k));
	wgkey_to_base64(k, b);
	assert_string_equal(b, "//////////////////////////////////////////8=");
	assert_int_equal(wgkey_from_base64(b, k2), 0);
	assert_memory_equal(k, k2, WG_KEY_LEN);
}

static void test_base64_reject(void **state)
{
	(void)state;
	uint8_t k[WG_KEY_LEN];
	static const char *const bad[] = {
	    "",
	    "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",    /* 43: padding dropped */
	    "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==",  /* 45 */
	    "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA",   /* 44 chars, 33 bytes */
	    "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==",   /* 44 chars, 31 bytes */
	    "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=",   /* url alphabet */
	    "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqqb mo=",   /* space */
	    " hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",  /* leading space */
	    "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", /* newline */
	    "hSDwCYkwp1R0i33ctD73Wg2/Og0m=Br066SpjqqbTmo=",   /* padding inside */
	    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", /* hex */
	};
	for (size_t i = 0; i < MG_ARRAY_SIZE(bad); i++)
		if (wgkey_from_base64(bad[i], k) != -1)
			fail_msg("wgkey_from_base64 accepted \"%s\"", bad[i]);
	assert_int_equal(wgkey_from_base64(NULL, k), -1);
}

static void test_hex(void **state)
{
	(void)state;
	uint8_t k[WG_KEY_LEN], k2[WG_KEY_LEN];
	char h[WG_KEY_HEX_LEN];
	for (int i = 0; i < WG_KEY_LEN; i++)
		k[i] = (uint8_t)(i * 37 + 3);
	wgkey_to_hex(k, h);
	assert_int_equal(strlen(h), 64);
	assert_int_equal(wgkey_from_hex(h, k2), 0);
	assert_memory_equal(k, k2, WG_KEY_LEN);
	/* uppercase is accepted, output is lowercase */
	assert_int_equal(
	    wgkey_from_hex("77076D0A7318A57D3C16C17251B26645DF4C2F87EBC0992AB177FBA51DB92C2A", k2),
	    0);
	wgkey_to_hex(k2, h);
	assert_string_equal(h, alice_priv);
	assert_int_equal(wgkey_from_hex(NULL, k), -1);
	assert_int_equal(wgkey_from_hex("", k), -1);
	assert_int_equal(
	    wgkey_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2", k),
	    -1);
	assert_int_equal(
	    wgkey_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a0", k),
	    -1);
	assert_int_equal(
	    wgkey_from_hex("g7076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", k),
	    -1);
	assert_int_equal(
	    wgkey_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2 ", k),
	    -1);
	assert_int_equal(
	    wgkey_from_hex("0x076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", k),
	    -1);
}

static void test_wipe(void **state)
{
	(void)state;
	uint8_t k[WG_KEY_LEN], z[WG_KEY_LEN] = {0};
	memset(k, 0xa5, sizeof(k));
	wgkey_wipe(k, sizeof(k));
	assert_memory_equal(k, z, WG_KEY_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7748), cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_base64),  cmocka_unit_test(test_base64_reject),
	    cmocka_unit_test(test_hex),     cmocka_unit_test(test_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
