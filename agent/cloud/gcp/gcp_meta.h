/* SPDX-License-Identifier: MIT */
/* The GCE metadata server: who we are, and the service account's OAuth access token. */
#ifndef MG_GCP_META_H
#define MG_GCP_META_H

#include <stdbool.h>
#include <time.h>

#include "cloud.h"
#include "err.h"
#include "gcp_http.h"
#include "gcp_json.h"

#define GCP_META_DEFAULT "http://169.254.169.254"
/* Fetch a new token this long before the current one expires (or at half its life). */
#define GCP_TOKEN_MARGIN 300

struct gcp_meta {
	char base[CLOUD_URL_LEN]; /* no trailing '/' */
	char token[GCP_TOKEN_LEN];
	time_t token_expiry; /* when to fetch a new one */
	long timeout_ms;
	gcp_transport_fn transport; /* NULL = gcp_http_do */
	void *transport_ud;
	time_t (*now)(void); /* NULL = time() */
	const struct httpc_abort *abort;
};

int gcp_meta_init(struct gcp_meta *m, const char *base, mg_err *e);
void gcp_meta_cleanup(struct gcp_meta *m);
/* 1 when the metadata server answers a Metadata-Flavor request as Google within timeout_ms. */
int gcp_meta_probe(const char *base, long timeout_ms);
/* GET /computeMetadata/v1/<path>: 200 with Metadata-Flavor: Google, else -1. */
int gcp_meta_get(struct gcp_meta *m, const char *path, size_t max, char **out, size_t *len,
		 mg_err *e);
/* The instance document, its exact id and the project id. */
int gcp_meta_identity(struct gcp_meta *m, struct gcp_md_instance *md, char *project, size_t projlen,
		      mg_err *e);
/* A valid token in m->token: fetched when missing, near expiry, or `force`. */
int gcp_meta_token(struct gcp_meta *m, bool force, mg_err *e);
/* Expiry-time policy: when to refresh a token of `expires_in` s fetched at t0. */
time_t gcp_token_refresh_at(time_t t0, long expires_in);

#endif
