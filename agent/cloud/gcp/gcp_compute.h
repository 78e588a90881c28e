/* SPDX-License-Identifier: MIT */
/*
 * Compute Engine API v1 for the GCP driver: bearer-token calls with retries (jittered
 * backoff on 429, 5xx and rate limits; one token refresh on 401), global Operations waited
 * for (operations.wait, polling as the fallback), routes list/insert/delete, instances.get.
 */
#ifndef MG_GCP_COMPUTE_H
#define MG_GCP_COMPUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "cloud.h"
#include "err.h"
#include "gcp_http.h"
#include "gcp_json.h"

#define GCP_API_DEFAULT "https://compute.googleapis.com"
#define GCP_LINK_BASE   "https://www.googleapis.com/compute/v1/"

/*
 * Every IAM permission the driver's Compute calls need, and nothing more: the one list
 * cloud/gcp/create-instance.sh grants (tests/system/cloud_checks.py compares them).
 */
enum gcp_perm {
	GCP_PERM_ROUTES_LIST,            /* routes.list */
	GCP_PERM_ROUTES_CREATE,          /* routes.insert */
	GCP_PERM_ROUTES_DELETE,          /* routes.delete */
	GCP_PERM_NETWORKS_UPDATE_POLICY, /* routes.insert and routes.delete, on the network */
	GCP_PERM_INSTANCES_GET,          /* instances.get: canIpForward */
	GCP_PERM_GLOBAL_OPERATIONS_GET,  /* globalOperations.wait and .get */
	GCP_PERM_COUNT
};
extern const char *const gcp_permissions[GCP_PERM_COUNT];

/* The current token; `force` after the API answered 401. */
typedef int (*gcp_token_fn)(void *ud, bool force, const char **token, mg_err *e);

struct gcp_compute {
	char base[CLOUD_URL_LEN + 128]; /* <api>/compute/v1/projects/<project> */
	char project[64];
	char ca_file[CLOUD_PATH_LEN];
	long timeout_ms;
	int max_attempts;
	long backoff_base_ms, backoff_cap_ms;
	long op_timeout_ms; /* how long to wait for one Operation */
	gcp_token_fn token;
	void *token_ud;
	gcp_transport_fn transport; /* NULL = gcp_http_do */
	void *transport_ud;
	const struct cloud_hooks *hooks; /* abort and sleep */
	struct httpc_abort abort;
	uint32_t (*rand32)(void); /* NULL = OpenSSL RAND */
};

int gcp_compute_init(struct gcp_compute *c, const char *api, const char *project,
		     const char *ca_file, gcp_token_fn token, void *token_ud, mg_err *e);

/* Full jitter: [0, min(cap, base * 2^attempt)]. */
long gcp_backoff_ms(long base, long cap, int attempt, uint32_t r);
/* A random version-4 UUID (requestId). */
int gcp_uuid(char out[37], mg_err *e);

/* One call (path relative to the project, e.g. "global/routes") with retries. 0: *resp
 * (heap) is the 2xx body; -1: `err` and `e` say why. */
int gcp_compute_call(struct gcp_compute *c, const char *method, const char *path, const char *body,
		     char **resp, size_t *len, struct gcp_error *err, mg_err *e);
/* Every route of the project, all pages. */
int gcp_compute_list_routes(struct gcp_compute *c, struct gcp_route_list *out,
			    struct gcp_error *err, mg_err *e);
/* routes.insert (with a requestId) and wait for its Operation. */
int gcp_compute_insert_route(struct gcp_compute *c, const char *name, const char *json,
			     struct gcp_error *err, mg_err *e);
/* routes.delete and wait; a route that is not there counts as deleted. */
int gcp_compute_delete_route(struct gcp_compute *c, const char *name, struct gcp_error *err,
			     mg_err *e);
int gcp_compute_can_ip_forward(struct gcp_compute *c, const char *zone, const char *instance,
			       bool *on, struct gcp_error *err, mg_err *e);

#endif
