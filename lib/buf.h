/* SPDX-License-Identifier: MIT */
/*
 * One growable byte buffer with a hard size cap (HTTP bodies, requests being built,
 * canonical strings), usable directly as a libcurl write callback, and one array-growth
 * helper for everything else that grows.
 */
#ifndef MG_BUF_H
#define MG_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define MG_BUF_DEFAULT_MAX (64u << 20)

struct mg_buf {
	char *p; /* NUL-terminated whenever non-NULL */
	size_t len, cap;
	size_t max;   /* hard cap on len; 0 = MG_BUF_DEFAULT_MAX */
	bool failed;  /* an append failed (memory or cap); sticky until reset/free */
	bool too_big; /* ... because of `max` */
	bool secret;  /* may hold secrets: grows by copy and wipes old and freed memory */
};

/* Appends; a failure sets `failed` (checked once at the end) and returns -1. */
int mg_buf_addn(struct mg_buf *b, const void *p, size_t n);
int mg_buf_add(struct mg_buf *b, const char *s);
int mg_buf_addc(struct mg_buf *b, char c);
int mg_buf_addf(struct mg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the string over ("" for an empty buffer); NULL if any append failed (then freed). */
char *mg_buf_take(struct mg_buf *b);
/* Forget the contents, keep max and secret (wipes when secret). */
void mg_buf_reset(struct mg_buf *b);
/* Wipe (when secret) and free; keeps max and secret. */
void mg_buf_free(struct mg_buf *b);
/* A CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA = the buffer: over the cap (or out of
 * memory) it returns 0, which ends the transfer with an error; `too_big` then says why. */
size_t mg_buf_write_cb(char *p, size_t size, size_t n, void *ud);

/*
 * Make room for `need` elements of `elem` bytes in *v (capacity *cap, in elements):
 * doubling, at most `max` elements. 0, or -1 with `e` set ("more than max" or memory).
 */
int mg_grow(void **v, size_t *cap, size_t need, size_t elem, size_t max, mg_err *e);

#endif
