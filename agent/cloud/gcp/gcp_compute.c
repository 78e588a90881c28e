/* SPDX-License-Identifier: MIT */
#include "gcp_compute.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud_calls.h"
#include "log.h"

const char *const gcp_permissions[GCP_PERM_COUNT] = {
    [GCP_PERM_ROUTES_LIST] = "compute.routes.list",
    [GCP_PERM_ROUTES_CREATE] = "compute.routes.create",
    [GCP_PERM_ROUTES_DELETE] = "compute.routes.delete",
    [GCP_PERM_NETWORKS_UPDATE_POLICY] = "compute.networks.updatePolicy",
    [GCP_PERM_INSTANCES_GET] = "compute.instances.get",
    [GCP_PERM_GLOBAL_OPERATIONS_GET] = "compute.globalOperations.get",
};

int gcp_compute_init(struct gcp_compute *c, const char *api, const char *project,
		     const char *ca_file, gcp_token_fn token, void *token_ud, mg_err *e)
{
	char a[CLOUD_URL_LEN];
	int n;

	memset(c, 0, sizeof(*c));
	n = snprintf(a, sizeof(a), "%s", api && api[0] ? api : GCP_API_DEFAULT);
	while (n > 0 && a[n - 1] == '/')
		a[--n] = '\0';
	if (strncmp(a, "https://", 8))
		return mg_err_set(e, "Compute API URL %s must be https://", a);
	if (snprintf(c->base, sizeof(c->base), "%s/compute/v1/projects/%s", a, project) >=
	    (int)sizeof(c->base))
		return mg_err_set(e, "Compute API URL too long");
	snprintf(c->project, sizeof(c->project), "%s", project);
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", ca_file ? ca_file : "");
	c->timeout_ms = 20000;
	c->max_attempts = 8;
	c->backoff_base_ms = 300;
	c->backoff_cap_ms = 8000;
	c->op_timeout_ms = 120000;
	c->token = token;
	c->token_ud = token_ud;
	return 0;
}

static uint32_t rnd(const struct gcp_compute *c)
{
	uint32_t r = 0;

	if (c->rand32)
		return c->rand32();
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)rand();
	return r;
}

long gcp_backoff_ms(long base, long cap, int attempt, uint32_t r)
{
	long hi = base;

	for (int i = 0; i < attempt && hi < cap; i++)
		hi *= 2;
	if (hi > cap)
		hi = cap;
	return hi > 0 ? (long)(r % (uint32_t)(hi + 1)) : 0;
}

int gcp_uuid(char out[37], mg_err *e)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return mg_err_set(e, "no random bytes for a requestId");
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

/* "Required permission" wording for a call that was refused. */
static void error_msg(const struct gcp_error *err, const char *method, const char *path, mg_err *e)
{
	if (err->scope)
		mg_err_set(e,
			   "Compute %s %s: the VM's access token lacks the compute scope "
			   "(HTTP %ld): give the instance the cloud-platform or compute scope",
			   method, path, err->http_status);
	else if (err->permission[0])
		mg_err_set(e,
			   "Compute %s %s: permission %s missing: grant it to the VM's "
			   "service account (HTTP %ld)",
			   method, path, err->permission, err->http_status);
	else if (err->quota[0])
		mg_err_set(e, "Compute %s %s: quota %s exceeded: %.150s", method, path, err->quota,
			   err->message);
	else
		mg_err_set(e, "Compute %s %s: HTTP %ld %s: %.150s", method, path, err->http_status,
			   err->reason[0] ? err->reason : "", err->message);
}

int gcp_compute_call(struct gcp_compute *c, const char *method, const char *path, const char *body,
		     char **resp, size_t *len, struct gcp_error *err, mg_err *e)
{
	char url[sizeof(c->base) + 1024], action[64];
	bool refreshed = false;

	*resp = NULL;
	memset(err, 0, sizeof(*err));
	if (snprintf(url, sizeof(url), "%s/%s", c->base, path) >= (int)sizeof(url))
		return mg_err_set(e, "Compute URL too long");
	cloud_call_gcp_action(method, path, action, sizeof(action));
	for (int attempt = 0; attempt < c->max_attempts; attempt++) {
		struct gcp_http_req rq = {.method = method,
					  .url = url,
					  .body = body,
					  .ca_file = c->ca_file[0] ? c->ca_file : NULL,
					  .timeout_ms = c->timeout_ms,
					  .max = GCP_JSON_MAX,
					  .abort = c->abort.aborted ? &c->abort : NULL};
		struct gcp_http_resp rs;
		const char *tok = NULL;

		if (cloud_aborted(c->hooks)) {
			err->aborted = true;
			return mg_err_set(e, "Compute %s %s: aborted", method, path);
		}
		if (c->token(c->token_ud, false, &tok, e))
			return mg_err_prefix(e, "Compute %s %s", method, path);
		rq.auth = tok;
		if ((c->transport ? c->transport : gcp_http_do)(c->transport_ud, &rq, &rs, e)) {
			memset(err, 0, sizeof(*err));
			if (rs.aborted || cloud_aborted(c->hooks)) {
				err->aborted = true;
				return -1;
			}
			err->retryable = true;
			cloud_call_count(c->hooks, "gcp", action, 0, false);
			log_warn("GCP: %s (attempt %d)", e->msg, attempt + 1);
		} else if (rs.status >= 200 && rs.status < 300) {
			cloud_call_count(c->hooks, "gcp", action, rs.status, false);
			*resp = rs.body;
			*len = rs.len;
			return 0;
		} else {
			gcp_parse_error(rs.body, rs.len, rs.status, err);
			gcp_http_resp_free(&rs);
			cloud_call_count(c->hooks, "gcp", action, err->http_status,
					 strstr(err->reason, "RateLimitExceeded") ||
					     !strcmp(err->reason, "rateLimitExceeded") ||
					     !strcmp(err->status, "RESOURCE_EXHAUSTED"));
			error_msg(err, method, path, e);
			if (err->auth && !refreshed) {
				refreshed = true;
				if (c->token(c->token_ud, true, &tok, e))
					return mg_err_prefix(e, "Compute %s %s: after HTTP 401",
							     method, path);
				attempt--; /* a refresh is not a retry */
				continue;
			}
			if (!err->retryable)
				return -1;
			log_info("GCP: %s; retrying", e->msg);
		}
		if (attempt + 1 < c->max_attempts &&
		    !cloud_sleep_ms(c->hooks, gcp_backoff_ms(c->backoff_base_ms, c->backoff_cap_ms,
							     attempt, rnd(c)))) {
			err->aborted = true;
			return mg_err_set(e, "Compute %s %s: aborted", method, path);
		}
	}
	return mg_err_prefix(e, "after %d attempts", c->max_attempts);
}

int gcp_compute_list_routes(struct gcp_compute *c, struct gcp_route_list *out,
			    struct gcp_error *err, mg_err *e)
{
	char next[1024] = "", path[1200];
	int pages = 0;

	do {
		char *b;
		size_t n;
		int rc;

		if (++pages > 100)
			return mg_err_set(e, "routes.list: more than 100 pages");
		snprintf(path, sizeof(path), "global/routes?maxResults=500%s%s",
			 next[0] ? "&pageToken=" : "", next);
		if (gcp_compute_call(c, "GET", path, NULL, &b, &n, err, e))
			return -1;
		rc = gcp_parse_routes_page(b, n, out, next, sizeof(next), e);
		free(b);
		if (rc)
			return -1;
		if (strspn(next,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
		    strlen(next))
			return mg_err_set(e, "routes.list: nextPageToken with odd characters");
	} while (next[0]);
	return 0;
}

/* From the answer of an insert/delete (an Operation) to DONE; its error into `err`. */
static int wait_op(struct gcp_compute *c, const char *what, char *body, size_t len,
		   struct gcp_error *err, mg_err *e)
{
	struct gcp_op op;
	long waited = 0;
	bool use_wait = true;

	if (gcp_parse_operation(body, len, &op, e)) {
		free(body);
		return mg_err_prefix(e, "%s", what);
	}
	free(body);
	while (op.status != GCP_OP_DONE) {
		char path[256], *b;
		size_t n;
		int rc;

		if (waited > c->op_timeout_ms) {
			err->retryable = true;
			return mg_err_set(e, "%s: operation %s still not done after %ld s", what,
					  op.name, waited / 1000);
		}
		if (!use_wait && !cloud_sleep_ms(c->hooks, 500)) {
			err->aborted = true;
			return mg_err_set(e, "%s: aborted", what);
		}
		snprintf(path, sizeof(path), "global/operations/%s%s", op.name,
			 use_wait ? "/wait" : "");
		rc = gcp_compute_call(c, use_wait ? "POST" : "GET", path, NULL, &b, &n, err, e);
		waited += use_wait ? 2000 : 500;
		if (rc) {
			/* no operations.wait here (an older or partial API): poll instead */
			if (use_wait && !err->aborted &&
			    (err->http_status == 404 || err->http_status == 405 ||
			     err->http_status == 501)) {
				use_wait = false;
				continue;
			}
			return mg_err_prefix(e, "%s", what);
		}
		rc = gcp_parse_operation(b, n, &op, e);
		free(b);
		if (rc)
			return mg_err_prefix(e, "%s", what);
	}
	if (!op.failed)
		return 0;
	memset(err, 0, sizeof(*err));
	err->http_status = op.http_status;
	snprintf(err->reason, sizeof(err->reason), "%s", op.err_code);
	snprintf(err->message, sizeof(err->message), "%s", op.err_message);
	if (strstr(op.err_code, "QUOTA"))
		snprintf(err->quota, sizeof(err->quota), "%s", "ROUTES");
	{
		/* "Quota 'ROUTES' exceeded": name it exactly when the message does */
		const char *p = strstr(op.err_message, "Quota '");
		const char *s = p ? p + 7 : NULL, *t = s ? strchr(s, '\'') : NULL;
		if (t && t > s && (size_t)(t - s) < sizeof(err->quota))
			snprintf(err->quota, sizeof(err->quota), "%.*s", (int)(t - s), s);
	}
	err->retryable = gcp_op_err_kind(&op) == CLOUD_ERR_TRANSIENT;
	if (err->quota[0])
		mg_err_set(e, "%s: quota %s exceeded: %.150s", what, err->quota, op.err_message);
	else
		mg_err_set(e, "%s: operation failed: %s %.150s", what, op.err_code, op.err_message);
	return -1;
}

static int mutate(struct gcp_compute *c, const char *method, const char *what, const char *path0,
		  const char *body, struct gcp_error *err, mg_err *e)
{
	char id[37], path[512];
	char *b;
	size_t n;

	if (gcp_uuid(id, e))
		return -1;
	snprintf(path, sizeof(path), "%s?requestId=%s", path0, id);
	if (gcp_compute_call(c, method, path, body, &b, &n, err, e))
		return -1;
	return wait_op(c, what, b, n, err, e);
}

int gcp_compute_insert_route(struct gcp_compute *c, const char *name, const char *json,
			     struct gcp_error *err, mg_err *e)
{
	char what[128];

	snprintf(what, sizeof(what), "inserting route %s", name);
	return mutate(c, "POST", what, "global/routes", json, err, e);
}

int gcp_compute_delete_route(struct gcp_compute *c, const char *name, struct gcp_error *err,
			     mg_err *e)
{
	char what[128], path[128];
	int rc;

	snprintf(what, sizeof(what), "deleting route %s", name);
	if (snprintf(path, sizeof(path), "global/routes/%s", name) >= (int)sizeof(path))
		return mg_err_set(e, "route name too long");
	rc = mutate(c, "DELETE", what, path, NULL, err, e);
	if (rc && err->http_status == 404 && !err->aborted) {
		mg_err_clear(e);
		return 0; /* already gone */
	}
	return rc;
}

int gcp_compute_can_ip_forward(struct gcp_compute *c, const char *zone, const char *instance,
			       bool *on, struct gcp_error *err, mg_err *e)
{
	char path[256], *b;
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "zones/%s/instances/%s", zone, instance);
	if (gcp_compute_call(c, "GET", path, NULL, &b, &n, err, e))
		return -1;
	rc = gcp_parse_instance(b, n, on, e);
	free(b);
	return rc;
}
