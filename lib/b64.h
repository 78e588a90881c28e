/* SPDX-License-Identifier: MIT */
/* Base64 (RFC 4648 §4) and base64url without padding (§5), on OpenSSL's codec. */
#ifndef MG_B64_H
#define MG_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length including the NUL. */
size_t b64_enc_len(size_t n);

/* Standard alphabet with padding. Returns 0, or -1 when `outlen` is too small. */
int b64_encode(const uint8_t *in, size_t n, char *out, size_t outlen);
/* Strict: standard alphabet, correct padding, no whitespace. Returns bytes written or -1. */
long b64_decode(const char *in, uint8_t *out, size_t outlen);

/* URL-safe alphabet, no padding. */
int b64url_encode(const uint8_t *in, size_t n, char *out, size_t outlen);
/* Strict URL-safe alphabet, no padding allowed. Returns bytes written or -1. */
long b64url_decode(const char *in, uint8_t *out, size_t outlen);

#endif
