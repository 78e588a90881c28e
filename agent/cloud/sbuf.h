/* SPDX-License-Identifier: MIT */
/* A growable string for building requests; a failed append sticks (checked once at the end). */
#ifndef MG_CLOUD_SBUF_H
#define MG_CLOUD_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void sbuf_addn(struct sbuf *b, const char *p, size_t n);
void sbuf_add(struct sbuf *b, const char *p);
void sbuf_addc(struct sbuf *b, char c);
void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the string over (NULL if any append failed; the buffer is then freed). */
char *sbuf_take(struct sbuf *b);
/* Wipe and free. */
void sbuf_free(struct sbuf *b);

#endif
