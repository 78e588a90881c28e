/* SPDX-License-Identifier: MIT */
/* One HTTP exchange for the Azure driver (IMDS or ARM) through httpc_setup(), keeping the
 * answer headers an LRO needs (Azure-AsyncOperation, Location, Retry-After). */
#ifndef MG_AZURE_HTTP_H
#define MG_AZURE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "httpc.h"

#define AZ_URL_MAX 4096 /* LRO URLs: accept at least 4 KB */

struct az_req {
	const char *method; /* GET, PUT, DELETE */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
	const char *body;           /* PUT body or NULL */
	const char *protocols;      /* NULL = https */
	const char *ca_file;
	long timeout_ms;
	size_t max_body;
	const struct httpc_abort *abort;
	bool secret; /* the answer holds a token: wipe it */
};

struct az_resp {
	long status; /* 0 = no HTTP answer */
	struct mg_buf body;
	char async_op[AZ_URL_MAX]; /* Azure-AsyncOperation */
	char location[AZ_URL_MAX];
	long retry_after_s; /* -1 = none */
	bool aborted;
	bool too_big;
};

/* 0 when an HTTP answer arrived (any status), -1 with `e` on transport errors. The
 * caller frees r->body (mg_buf_free). */
int az_http(const struct az_req *q, struct az_resp *r, mg_err *e);

#endif
