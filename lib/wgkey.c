/* SPDX-License-Identifier: MIT */
#include "wgkey.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "b64.h"

int wgkey_generate(uint8_t priv[WG_KEY_LEN], mg_err *e)
{
	if (RAND_priv_bytes(priv, WG_KEY_LEN) != 1)
		return mg_err_set(e, "random key: OpenSSL RAND_priv_bytes failed");
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	return 0;
}

int wgkey_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN], mg_err *e)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WG_KEY_LEN);
	size_t len = WG_KEY_LEN;

	if (!k)
		return mg_err_set(e, "X25519 private key rejected by OpenSSL");
	if (EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != WG_KEY_LEN) {
		EVP_PKEY_free(k);
		return mg_err_set(e, "X25519 public key derivation failed");
	}
	EVP_PKEY_free(k);
	return 0;
}

void wgkey_to_base64(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN])
{
	b64_encode(key, WG_KEY_LEN, out, WG_KEY_B64_LEN);
}

int wgkey_from_base64(const char *s, uint8_t key[WG_KEY_LEN])
{
	uint8_t tmp[WG_KEY_LEN + 2];
	if (!s || strlen(s) != 44)
		return -1;
	if (b64_decode(s, tmp, sizeof(tmp)) != WG_KEY_LEN)
		return -1;
	memcpy(key, tmp, WG_KEY_LEN);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

void wgkey_to_hex(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_HEX_LEN])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < WG_KEY_LEN; i++) {
		out[2 * i] = hex[key[i] >> 4];
		out[2 * i + 1] = hex[key[i] & 15];
	}
	out[64] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int wgkey_from_hex(const char *s, uint8_t key[WG_KEY_LEN])
{
	if (!s || strlen(s) != 64)
		return -1;
	for (int i = 0; i < WG_KEY_LEN; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		key[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

void wgkey_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}
