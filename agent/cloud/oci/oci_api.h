/* SPDX-License-Identifier: MIT */
/*
 * The OCI Networking API (20160918): signed calls with retries and error mapping, and the
 * pure JSON parsers of its answers (what tests/fuzz/fuzz_oci_json.c drives).
 */
#ifndef MG_OCI_API_H
#define MG_OCI_API_H

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "cloud.h"
#include "oci_http.h"

#define OCI_API_VERSION "20160918"
#define OCI_JSON_MAX    (4u << 20)
#define OCI_MARKER      "meshgate:"
#define OCI_DESC_MAX    255 /* characters, as the API allows */

struct oci_error {
	long status;   /* 0 = no HTTP answer */
	char code[64]; /* e.g. "NoEtagMatch"; "" when the body had none */
	char message[256];
	char request_id[96];
	bool aborted;
};

/* The current signing key and token; `force` after the API rejected them. */
typedef int (*oci_creds_fn)(void *ud, bool force, EVP_PKEY **key, const char **token, mg_err *e);

struct oci_api {
	char host[CLOUD_URL_LEN]; /* iaas.<region>.<realm> */
	char compartment[CLOUD_ID_LEN];
	struct oci_http http;
	oci_creds_fn creds;
	void *creds_ud;
	const struct cloud_hooks *hooks;
	int max_attempts;
	long backoff_base_ms, backoff_cap_ms;
	unsigned seq;
	char rid_prefix[24];
	time_t (*now)(void);
};

int oci_api_init(struct oci_api *a, const char *region, const char *realm, mg_err *e);

/*
 * One call (`op` names the operation, e.g. "UpdateRouteTable", for logs and the policy
 * statement). `target` is the path and query after the host. GETs are read calls; others
 * check hooks->may_write before every attempt. 0: *out holds the 2xx answer. -1: `err`
 * says what the API answered and `ce` has the kind, the policy statement (404
 * NotAuthorizedOrNotFound) and one line naming op, status, code and opc-request-id.
 */
int oci_call(struct oci_api *a, const char *op, const char *method, const char *target,
	     const char *body, const char *if_match, struct oci_resp *out, struct oci_error *err,
	     struct cloud_err *ce);

/* The error kind of an answer (after retries). */
enum cloud_err_kind oci_err_kind(const struct oci_error *err);
/* one IAM grant the driver needs for one OCI operation (see oci_grants in oci_api.c) */
struct oci_grant {
	const char *op;    /* the OCI API operation, e.g. "UpdateRouteTable" */
	const char *grant; /* policy verb and resource type, e.g. "manage route-tables" */
	const char *perm;  /* request.permission narrowing it, "" for none */
};
extern const struct oci_grant oci_grants[];
extern const size_t oci_grants_n;

/*
 * "Allow dynamic-group meshgate-connectors to <verb> <resource> in compartment id <c>
 * [where request.permission = '<P>']" for `op`: its first row in oci_grants.
 */
void oci_policy_for(const char *op, const char *compartment, char *out, size_t outlen);
/* Jittered backoff: a value in [d/2, d], d = min(cap, base * 2^attempt). */
long oci_backoff_ms(long base, long cap, int attempt, uint32_t r);

/* ---- pure parsers ---- */
/* {"code","message"}: fills code and message (unknown bodies leave them ""). */
void oci_parse_error(const char *buf, size_t len, struct oci_error *err);
int oci_parse_vnic(const char *buf, size_t len, bool *skip_sdc, char *subnet_id, size_t subnet_len,
		   mg_err *e);
/* The first private IP of a ListPrivateIps page whose ipAddress is `ip` (or the primary
 * one when `ip` is NULL): its id. */
int oci_parse_private_ips(const char *buf, size_t len, const char *ip, char *id, size_t idlen,
			  mg_err *e);
int oci_parse_subnet(const char *buf, size_t len, char *vcn_id, size_t vcn_len, char *rt_id,
		     size_t rt_len, mg_err *e);
/* ListSubnets page: append each subnet's routeTableId to ids (deduplicated). */
int oci_parse_subnets(const char *buf, size_t len, char (*ids)[CLOUD_ID_LEN], size_t *n, size_t max,
		      mg_err *e);
int oci_parse_vcn(const char *buf, size_t len, struct cidr *cidrs, size_t *n, size_t max,
		  mg_err *e);
/*
 * GetRouteTable: fill `s` (id, network_id, routes) and, when `rules` is not NULL, hand over
 * the parsed routeRules array (to send others' rules back unchanged). Every rule is checked;
 * a malformed one refuses the whole table.
 */
int oci_parse_route_table(const char *buf, size_t len, struct cloud_scope *s, cJSON **rules,
			  mg_err *e);

/* "meshgate:<network>[:<connector>]" → marker; false when the text is no marker. */
bool oci_marker_parse(const char *desc, struct cloud_mesh_id *out);

#endif
