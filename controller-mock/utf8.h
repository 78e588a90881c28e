/* SPDX-License-Identifier: MIT */
/* UTF-8 checks for what the controller sends and accepts: every answer body is JSON, and
 * JSON text is UTF-8 (RFC 8259). */
#ifndef CTL_UTF8_H
#define CTL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at `p` (`left` bytes available): 1 to 4, or 0
 * when the bytes there are not one (stray continuation byte, overlong form, surrogate,
 * above U+10FFFF, truncated). Unicode 15, table 3-7. */
size_t utf8_seq_len(const unsigned char *p, size_t left);

/* Whether `len` bytes at `s` are well-formed UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* JSON text with every byte that is not part of a well-formed sequence replaced by the
 * escape \ufffd (U+FFFD, six ASCII characters). Sound for the output of a JSON printer,
 * where bytes above 0x7f occur only inside strings. utf8_json_repaired_len gives the
 * length of the result; utf8_json_repair writes it and a NUL to `out`, which has room for
 * that many bytes plus one. */
size_t utf8_json_repaired_len(const char *s, size_t len);
void utf8_json_repair(const char *s, size_t len, char *out);

#endif
