/* SPDX-License-Identifier: MIT */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t cap_of(const struct mg_buf *b)
{
	return b->max ? b->max : MG_BUF_DEFAULT_MAX;
}

static int fail(struct mg_buf *b, bool too_big)
{
	b->failed = true;
	b->too_big |= too_big;
	return -1;
}

/* Room for `add` more bytes plus the NUL. */
static int reserve(struct mg_buf *b, size_t add)
{
	size_t ncap;
	char *np;

	if (b->failed)
		return -1;
	if (add > cap_of(b) || b->len > cap_of(b) - add)
		return fail(b, true);
	if (b->p && b->len + add + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + add + 1)
		ncap *= 2;
	if (b->secret || !b->p) {
		/* copy rather than realloc so that secrets never linger in freed memory */
		np = malloc(ncap);
		if (!np)
			return fail(b, false);
		if (b->p) {
			memcpy(np, b->p, b->len + 1);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		} else {
			np[0] = '\0';
		}
	} else {
		np = realloc(b->p, ncap);
		if (!np)
			return fail(b, false);
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

int mg_buf_addn(struct mg_buf *b, const void *p, size_t n)
{
	if (reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int mg_buf_add(struct mg_buf *b, const char *s)
{
	return mg_buf_addn(b, s, strlen(s));
}

int mg_buf_addc(struct mg_buf *b, char c)
{
	return mg_buf_addn(b, &c, 1);
}

int mg_buf_addf(struct mg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return fail(b, false);
	if (reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *mg_buf_take(struct mg_buf *b)
{
	char *s;

	if (!b->failed && !b->p)
		reserve(b, 0);
	if (b->failed) {
		mg_buf_free(b);
		return NULL;
	}
	s = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return s;
}

void mg_buf_reset(struct mg_buf *b)
{
	if (b->p) {
		if (b->secret)
			explicit_bzero(b->p, b->cap);
		b->p[0] = '\0';
	}
	b->len = 0;
	b->failed = b->too_big = false;
}

void mg_buf_free(struct mg_buf *b)
{
	if (b->p && b->secret)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = b->too_big = false;
}

size_t mg_buf_write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct mg_buf *b = ud;

	if (size && n > SIZE_MAX / size)
		return 0;
	if (mg_buf_addn(b, p, size * n) < 0)
		return 0; /* the transfer ends with CURLE_WRITE_ERROR */
	return size * n;
}

int mg_grow(void **v, size_t *cap, size_t need, size_t elem, size_t max, mg_err *e)
{
	size_t ncap;
	void *nv;

	if (need <= *cap)
		return 0;
	if (need > max)
		return mg_err_set(e, "more than %zu entries", max);
	ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap = ncap > max / 2 ? max : ncap * 2;
	if (!elem || ncap > SIZE_MAX / elem)
		return mg_err_set(e, "out of memory");
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return mg_err_set(e, "out of memory");
	*v = nv;
	*cap = ncap;
	return 0;
}
