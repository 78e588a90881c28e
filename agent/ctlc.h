/* SPDX-License-Identifier: MIT */
/*
 * Controller client: one libcurl easy handle per request, configured the same way
 * for blocking use (`up`) and for the daemon's multi handle. Trust is the pin from
 * the connection string (CURLOPT_PINNEDPUBLICKEY), checked in the TLS handshake,
 * before any token or secret is sent; a CA file may be used in addition.
 */
#ifndef MG_CTLC_H
#define MG_CTLC_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct ctlc_target {
	char url[256];     /* https://host:port */
	char pin[128];     /* sha256//... */
	char ca_file[256]; /* optional: also verify the chain and host name */
};

struct ctlc_req {
	CURL *h;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	char url[512];
	/* The response body (NUL-terminated; resp.max is the size cap). body, len and cap
	 * name resp's first members for the callers that read or take the body. */
	union {
		struct mg_buf resp;
		struct {
			char *body;
			size_t len, cap;
		};
	};
	char etag[64];
	char *post; /* owned copy of the request body, wiped on free */
	void *user;
	int kind; /* caller's tag */
};

/*
 * Prepare a request. `bearer` (may be NULL) goes into an Authorization header and is
 * wiped from our memory on free. `post_json` NULL means GET. `extra_header` may be NULL.
 * `max_body`: responses larger than this fail. `timeout_ms`: whole-request limit.
 */
int ctlc_req_init(struct ctlc_req *r, const struct ctlc_target *t, const char *path,
		  const char *bearer, const char *post_json, const char *extra_header,
		  size_t max_body, long timeout_ms, mg_err *e);
void ctlc_req_free(struct ctlc_req *r);

/*
 * Turn a finished transfer into an HTTP status (>= 100), or -1 with an actionable
 * message for transport failures (unreachable, pin mismatch, TLS, too large, timeout).
 */
long ctlc_req_status(struct ctlc_req *r, CURLcode rc, mg_err *e);

/*
 * For a non-2xx answer: the API error code ("token_used") into `code` and a message
 * "<status> <code>: <message>" into e. Returns the code string length (0 if none).
 */
size_t ctlc_api_error(const struct ctlc_req *r, long status, char *code, size_t codelen,
		      mg_err *e);

/* Run a prepared request to completion (blocking). Returns the HTTP status or -1. */
long ctlc_perform(struct ctlc_req *r, mg_err *e);

/* libcurl global init/cleanup wrappers (once per process). */
int ctlc_global_init(mg_err *e);
void ctlc_global_cleanup(void);

#endif
