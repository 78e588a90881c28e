/* SPDX-License-Identifier: MIT */
/*
 * The GCP driver's JSON parsers (pure, bounded, what tests/fuzz/fuzz_gcp_json drives):
 * metadata token and recursive instance document, Compute instance, Route list page,
 * Operation, and error bodies with their mapping onto cloud error kinds.
 */
#ifndef MG_GCP_JSON_H
#define MG_GCP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud.h"
#include "err.h"

#define GCP_JSON_MAX  (8u << 20)
#define GCP_TOKEN_LEN 2048
#define GCP_NAME_LEN  64 /* RFC 1035 names: at most 63 characters */

/* metadata .../service-accounts/default/token */
int gcp_parse_token(const char *buf, size_t len, char *token, size_t toklen, long *expires_in,
		    mg_err *e);

/* metadata instance/?recursive=true */
struct gcp_md_instance {
	char id[24]; /* uint64 in decimal */
	char name[GCP_NAME_LEN];
	char zone[GCP_NAME_LEN]; /* last part of projects/N/zones/Z */
	char ip[64];             /* nic0 */
	char mac[32];
	char network[GCP_NAME_LEN]; /* last part of projects/N/networks/NAME */
	char netmask[64];           /* nic0 subnetmask, "" when absent */
	bool compute_scope;         /* default SA has the compute or cloud-platform scope */
	bool has_sa;                /* a default service account at all */
};
int gcp_parse_md_instance(const char *buf, size_t len, struct gcp_md_instance *out, mg_err *e);

/* Compute instances.get: canIpForward (absent = false) and nic0's network URL. */
int gcp_parse_instance(const char *buf, size_t len, bool *can_ip_forward, mg_err *e);

/* One listed route with what the driver needs beyond struct cloud_route. */
struct gcp_route {
	struct cloud_route r; /* name, dst, target, state, description; origin = routeType */
	int priority;
	char network[CLOUD_ID_LEN]; /* last part of the network URL */
	bool system;                /* subnet, peering, network or default-internet route */
};
struct gcp_route_list {
	struct gcp_route *v;
	size_t n, cap;
};
void gcp_route_list_free(struct gcp_route_list *l);
/* Append one routes.list page's items; copy nextPageToken ("" on the last page). */
int gcp_parse_routes_page(const char *buf, size_t len, struct gcp_route_list *out, char *next,
			  size_t nextlen, mg_err *e);

enum gcp_op_status { GCP_OP_PENDING, GCP_OP_RUNNING, GCP_OP_DONE };
struct gcp_op {
	char name[128];
	enum gcp_op_status status;
	bool failed;       /* DONE with error.errors[] */
	char err_code[64]; /* the first error's code, e.g. QUOTA_EXCEEDED */
	char err_message[256];
	long http_status; /* httpErrorStatusCode, 0 when absent */
};
int gcp_parse_operation(const char *buf, size_t len, struct gcp_op *op, mg_err *e);

/* What the API said when it said no. */
struct gcp_error {
	long http_status; /* 0 = no HTTP answer */
	long code;        /* error.code */
	char status[48];  /* error.status, e.g. PERMISSION_DENIED */
	char reason[64];  /* errors[0].reason, e.g. rateLimitExceeded */
	char message[256];
	char permission[96]; /* from "Required 'compute.routes.create' permission ..." */
	char quota[64];      /* from "Quota 'ROUTES' exceeded" */
	bool scope;          /* insufficientPermissions / ACCESS_TOKEN_SCOPE_INSUFFICIENT */
	bool retryable;      /* 429, 5xx, rate limits, transport */
	bool auth;           /* 401: refresh the token once and retry */
	bool aborted;
};
/* Fill `err` from a body and the HTTP status; never fails (unknown bodies give ""). */
void gcp_parse_error(const char *buf, size_t len, long http_status, struct gcp_error *err);
/* The cloud error kind of an API error (for a call needing permission `perm`, or NULL). */
enum cloud_err_kind gcp_err_kind(const struct gcp_error *err);
/* Operation error code (QUOTA_EXCEEDED, RESOURCE_NOT_FOUND...) as a cloud error kind. */
enum cloud_err_kind gcp_op_err_kind(const struct gcp_op *op);

/* "https://www.googleapis.com/compute/v1/projects/P/zones/Z/instances/N" (or a partial
 * URL) -> "projects/P/zones/Z/instances/N"; the last path part when `last`. */
void gcp_url_tail(const char *url, bool last, char *out, size_t outlen);

#endif
