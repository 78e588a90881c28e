/* SPDX-License-Identifier: MIT */
/* WireGuard Curve25519 keys through OpenSSL's X25519. */
#ifndef MG_WGKEY_H
#define MG_WGKEY_H

#include <stdint.h>

#include "err.h"

#define WG_KEY_LEN     32
#define WG_KEY_B64_LEN 45 /* 44 characters and NUL */
#define WG_KEY_HEX_LEN 65

/* Fresh private key from the system CSPRNG (clamped as X25519 requires). */
int wgkey_generate(uint8_t priv[WG_KEY_LEN], mg_err *e);
int wgkey_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN], mg_err *e);
void wgkey_to_base64(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN]);
int wgkey_from_base64(const char *s, uint8_t key[WG_KEY_LEN]);
void wgkey_to_hex(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_HEX_LEN]);
int wgkey_from_hex(const char *s, uint8_t key[WG_KEY_LEN]);
/* Wipe key material. */
void wgkey_wipe(void *p, size_t n);

#endif
