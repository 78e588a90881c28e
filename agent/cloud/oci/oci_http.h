/* SPDX-License-Identifier: MIT */
/*
 * One HTTP exchange for the OCI driver (IMDS, federation, Networking API): bounded, abortable,
 * answer headers the driver needs (etag, opc-request-id, opc-next-page) picked out. With
 * `connect_to` set ("host:port", from --cloud-api), every HTTPS request keeps its real host
 * name (URL, SNI, certificate check, Host header, signature) but connects there (tests).
 */
#ifndef MG_OCI_HTTP_H
#define MG_OCI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cloud.h"
#include "err.h"
#include "httpc.h"

#define OCI_MAX_BODY (4u << 20)

struct oci_http {
	char connect_to[CLOUD_URL_LEN]; /* "" or "host:port" */
	char ca_file[CLOUD_PATH_LEN];
	long timeout_ms;
	struct httpc_abort abort;
};

struct oci_resp {
	long status; /* 0 = no HTTP answer */
	char *body;  /* heap, NUL-terminated; NULL when none */
	size_t len;
	char etag[CLOUD_ID_LEN];
	char request_id[96];
	char next_page[512];
	char date[40]; /* the answer's Date header: the service's clock */
	bool aborted;
	bool too_big;
};

void oci_resp_free(struct oci_resp *r);

/* `url` full; `hdrs` "Name: value" lines. 0 when an HTTP answer came (any status),
 * -1 with `e` set otherwise (r->aborted says whether the abort hook ended it). */
int oci_http_do(const struct oci_http *c, const char *method, const char *url,
		const char *const *hdrs, size_t n_hdrs, const char *body, size_t blen,
		struct oci_resp *r, mg_err *e);

/*
 * Why a signed request came back 401 NotAuthenticated, for the one line the user reads: the
 * clock when the answer's Date (`server_date`) is more than 4 minutes from `signed_at` (OCI
 * refuses a request dated more than 5 minutes off), else the signature itself (a signed
 * header changed on the way, or a key that is not the keyId's). Always fills `out`.
 */
void oci_401_hint(const char *server_date, time_t signed_at, char *out, size_t len);

/* "host:port" from a URL such as https://198.18.1.1 or https://h:8443/ ("" for ""). */
int oci_connect_to_of(const char *url, char *out, size_t outlen, mg_err *e);

#endif
