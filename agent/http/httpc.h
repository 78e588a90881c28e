/* SPDX-License-Identifier: MIT */
/*
 * One way to set up a libcurl easy handle for every HTTP client of the agent (controller,
 * cloud metadata, cloud APIs): bounded connect and total time, a response body into an
 * mg_buf whose cap is the size limit, TLS verified against a CA file or the system store
 * (or a pinned public key as the whole trust anchor), no proxy unless asked, no
 * redirects, our user agent, and an optional abort hook polled during the transfer.
 */
#ifndef MG_HTTPC_H
#define MG_HTTPC_H

#include <curl/curl.h>
#include <stdbool.h>

#include "buf.h"
#include "err.h"

/* Polled while a transfer runs (at least about once a second): true ends it with
 * CURLE_ABORTED_BY_CALLBACK. Must outlive the transfer. */
struct httpc_abort {
	bool (*aborted)(void *ud);
	void *ud;
};

struct httpc_opts {
	const char *url;
	const char *protocols;           /* CURLOPT_PROTOCOLS_STR; NULL = "https" */
	long connect_timeout_ms;         /* 0 = 5000 */
	long timeout_ms;                 /* whole request; 0 = 20000 */
	struct mg_buf *body;             /* the answer goes here; body->max is the size cap */
	const char *ca_file;             /* NULL or "" = the system store */
	const char *pinned_key;          /* "sha256//..." or NULL */
	bool pin_only;                   /* with pinned_key: the pin is the whole trust anchor (no
					  * chain or host name check: a self-signed controller) */
	bool use_proxy;                  /* false: never a proxy (metadata, cloud APIs) */
	const struct httpc_abort *abort; /* NULL = none */
	char *errbuf;                    /* CURL_ERROR_SIZE bytes, or NULL */
};

/* Configure `h` (a fresh or reset handle). 0, or -1 with `e` naming the option. */
int httpc_setup(CURL *h, const struct httpc_opts *o, mg_err *e);

#endif
