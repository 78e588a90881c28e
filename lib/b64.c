/* SPDX-License-Identifier: MIT */
#include "b64.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

size_t b64_enc_len(size_t n)
{
	return 4 * ((n + 2) / 3) + 1;
}

int b64_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	if (outlen < b64_enc_len(n) || n > 0x3fffffff)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

static bool b64_valid(const char *in, size_t len)
{
	if (len % 4)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '+' || c == '/';
		if (c == '=') {
			/* only one or two, only at the very end */
			if (i < len - 2 || (i == len - 2 && in[len - 1] != '='))
				return false;
			continue;
		}
		if (!ok)
			return false;
	}
	return true;
}

long b64_decode(const char *in, uint8_t *out, size_t outlen)
{
	size_t len = strlen(in), pad = 0, need;
	unsigned char *tmp;
	int n;

	if (!b64_valid(in, len) || len > 0x3fffffff)
		return -1;
	if (len == 0)
		return 0;
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	need = len / 4 * 3 - pad;
	if (need > outlen)
		return -1;
	tmp = malloc(len / 4 * 3 + 1);
	if (!tmp)
		return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n != len / 4 * 3) {
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, need);
	OPENSSL_cleanse(tmp, len / 4 * 3 + 1);
	free(tmp);
	return (long)need;
}

int b64url_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	size_t len;

	if (outlen < b64_enc_len(n))
		return -1;
	if (b64_encode(in, n, out, outlen) < 0)
		return -1;
	len = strlen(out);
	while (len && out[len - 1] == '=')
		out[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return 0;
}

long b64url_decode(const char *in, uint8_t *out, size_t outlen)
{
	size_t len = strlen(in);
	char *tmp;
	long r;

	if (len % 4 == 1 || len > 0x3ffffff0)
		return -1;
	tmp = malloc(len + 3);
	if (!tmp)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (c == '+' || c == '/' || c == '=')
			c = '!'; /* not part of the url alphabet: make b64_decode refuse it */
		tmp[i] = c;
	}
	while (len % 4)
		tmp[len++] = '=';
	tmp[len] = '\0';
	r = b64_decode(tmp, out, outlen);
	free(tmp);
	return r;
}
