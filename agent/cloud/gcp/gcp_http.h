/* SPDX-License-Identifier: MIT */
/* One HTTP exchange of the GCP driver (metadata server and Compute), with a test hook. */
#ifndef MG_GCP_HTTP_H
#define MG_GCP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "httpc.h"

struct gcp_http_req {
	const char *method; /* GET, POST, DELETE */
	const char *url;
	const char *body; /* JSON or NULL */
	const char *auth; /* bearer token or NULL (never logged) */
	bool metadata;    /* send Metadata-Flavor: Google, http allowed */
	const char *ca_file;
	long timeout_ms;
	size_t max; /* answer bytes */
	const struct httpc_abort *abort;
};

struct gcp_http_resp {
	long status; /* 0 = no answer */
	char *body;  /* heap, NUL-terminated, or NULL */
	size_t len;
	bool flavor;  /* the answer carried Metadata-Flavor: Google */
	bool aborted; /* given up because the abort hook said so */
};

typedef int (*gcp_transport_fn)(void *ud, const struct gcp_http_req *r, struct gcp_http_resp *out,
				mg_err *e);

/* libcurl. 0 with out->status set (any status), -1 with `e` (and out->aborted) when there
 * was no answer. */
int gcp_http_do(void *ud, const struct gcp_http_req *r, struct gcp_http_resp *out, mg_err *e);
void gcp_http_resp_free(struct gcp_http_resp *r);

#endif
