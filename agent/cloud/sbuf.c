/* SPDX-License-Identifier: MIT */
#include "sbuf.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(struct sbuf *b, size_t add)
{
	size_t ncap;
	char *ns;

	if (b->oom)
		return false;
	if (add > (size_t)-1 / 4 - b->len) {
		b->oom = true;
		return false;
	}
	if (b->len + add + 1 <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + add + 1)
		ncap *= 2;
	ns = malloc(ncap);
	if (!ns) {
		b->oom = true;
		return false;
	}
	/* copy rather than realloc so that secrets never linger in freed memory */
	if (b->s) {
		memcpy(ns, b->s, b->len + 1);
		OPENSSL_cleanse(b->s, b->cap);
		free(b->s);
	} else {
		ns[0] = '\0';
	}
	b->s = ns;
	b->cap = ncap;
	return true;
}

void sbuf_addn(struct sbuf *b, const char *p, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void sbuf_add(struct sbuf *b, const char *p)
{
	sbuf_addn(b, p, strlen(p));
}

void sbuf_addc(struct sbuf *b, char c)
{
	sbuf_addn(b, &c, 1);
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (!grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *sbuf_take(struct sbuf *b)
{
	char *s;

	if (b->oom) {
		sbuf_free(b);
		return NULL;
	}
	if (!b->s && !grow(b, 0))
		return NULL;
	if (!b->s)
		return NULL;
	s = b->s;
	s[b->len] = '\0';
	memset(b, 0, sizeof(*b));
	return s;
}

void sbuf_free(struct sbuf *b)
{
	if (b->s) {
		OPENSSL_cleanse(b->s, b->cap);
		free(b->s);
	}
	memset(b, 0, sizeof(*b));
}
