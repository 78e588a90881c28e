/* SPDX-License-Identifier: MIT */
/*
 * The metrics endpoint of `meshgate run --metrics-listen ADDR:PORT`: a tiny HTTP/1.1
 * server on the daemon's event loop. Every socket is non-blocking and polled with the
 * loop's other fds; requests are bounded (head of 4 KiB, 8 clients, 10 s each: the
 * oldest gives way); GET /metrics answers the text exposition format, other paths 404,
 * other methods 405, then the connection closes. No thread, no wait: a slow reader
 * holds a slot, never the loop.
 */
#ifndef MG_METRICS_H
#define MG_METRICS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define METRICS_MAX_CLIENTS 8
#define METRICS_MAX_HEAD    4096
#define METRICS_CLIENT_MS   10000
/* fds it may add to a poll: the listener and each client */
#define METRICS_MAX_FDS (METRICS_MAX_CLIENTS + 1)

struct metrics_srv;

/* Fill `out` (a fresh buffer) with the exposition text. */
typedef void (*metrics_render_fn)(void *ctx, struct mg_buf *out);

/* Bind and listen on "ADDR:PORT" (numeric; "[v6]:PORT"). -1 with e naming the address. */
int metrics_open(struct metrics_srv **out, const char *listen, metrics_render_fn fn, void *ctx,
		 mg_err *e);
void metrics_close(struct metrics_srv *m);

/* The fds to poll (with their events) into fds[0..max); returns how many. */
unsigned metrics_poll_fds(const struct metrics_srv *m, struct curl_waitfd *fds, unsigned max);
/* After the poll: accept, read, answer, close, and drop clients past their time. */
void metrics_dispatch(struct metrics_srv *m, const struct curl_waitfd *fds, unsigned n);

/* The answer to a request head (`len` bytes: the request line first): 200 (GET or
 * HEAD /metrics, with or without a query; *head_only for HEAD), 404 (another path),
 * 405 (another method), 400 (not an HTTP/1.x request line). Pure: tests and fuzzers. */
int metrics_route(const char *head, size_t len, bool *head_only);

/* Requests answered, by status (for the endpoint's own metrics and tests). */
uint64_t metrics_requests(const struct metrics_srv *m, int status);

#endif
