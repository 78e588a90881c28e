/* SPDX-License-Identifier: MIT */
#include "gcp_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonu.h"

#define TOKEN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/="

void gcp_url_tail(const char *url, bool last, char *out, size_t outlen)
{
	const char *p = url, *q;

	if (last) {
		q = strrchr(url, '/');
		snprintf(out, outlen, "%s", q ? q + 1 : url);
		return;
	}
	q = strstr(url, "/compute/v1/");
	if (q)
		p = q + strlen("/compute/v1/");
	else if ((q = strstr(url, "projects/")))
		p = q;
	snprintf(out, outlen, "%s", p);
}

int gcp_parse_token(const char *buf, size_t len, char *token, size_t toklen, long *expires_in,
		    mg_err *e)
{
	const char *t = NULL, *type = NULL;
	int64_t exp = 0;
	cJSON *j;
	int rc = -1;

	token[0] = '\0';
	/* a token needs no escapes; "\u0000" would cut it short unseen */
	if (memmem(buf, len, "\\u", 2))
		return mg_err_set(e, "metadata token: escaped characters in the answer");
	j = jsonu_parse(buf, len, 65536, e);
	if (!j)
		return mg_err_prefix(e, "metadata token");
	if (jsonu_get_str(j, "access_token", true, toklen - 1, &t, e) ||
	    jsonu_get_str(j, "token_type", true, 32, &type, e) ||
	    jsonu_get_int(j, "expires_in", true, 1, 7 * 86400, &exp, e)) {
		mg_err_prefix(e, "metadata token");
		goto out;
	}
	if (strcmp(type, "Bearer")) {
		mg_err_set(e, "metadata token: token_type \"%.32s\" is not Bearer", type);
		goto out;
	}
	if (!t[0] || strspn(t, TOKEN_CHARS) != strlen(t) || strlen(t) != strnlen(t, toklen)) {
		mg_err_set(e, "metadata token: access_token has characters a token cannot have");
		goto out;
	}
	snprintf(token, toklen, "%s", t);
	*expires_in = (long)exp;
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

static bool is_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < GCP_NAME_LEN &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == n;
}

int gcp_parse_md_instance(const char *buf, size_t len, struct gcp_md_instance *out, mg_err *e)
{
	const cJSON *nics = NULL, *nic, *sas = NULL, *sa, *scopes = NULL, *id;
	const char *zone = NULL, *net = NULL;
	cJSON *j;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	j = jsonu_parse(buf, len, 1u << 20, e);
	if (!j)
		return mg_err_prefix(e, "metadata instance document");
	id = cJSON_GetObjectItemCaseSensitive(j, "id");
	/* a uint64 as a JSON number: doubles above 2^53 are not exact, so the exact id
	 * comes from the instance/id leaf; here only its range is checked */
	if (!cJSON_IsNumber(id) || id->valuedouble < 0 ||
	    id->valuedouble >= 18446744073709551616.0) {
		mg_err_set(e, "metadata instance document: id is not a uint64");
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%.0f", id->valuedouble);
	if (jsonu_copy_str(j, "name", true, out->name, sizeof(out->name), e) ||
	    jsonu_get_str(j, "zone", true, 256, &zone, e) ||
	    jsonu_get_array(j, "networkInterfaces", true, 16, &nics, e))
		goto bad;
	gcp_url_tail(zone, true, out->zone, sizeof(out->zone));
	if (!is_name(out->name) || !is_name(out->zone)) {
		mg_err_set(e, "metadata instance document: bad name or zone");
		goto out;
	}
	nic = cJSON_GetArrayItem(nics, 0);
	if (!cJSON_IsObject(nic)) {
		mg_err_set(e, "metadata instance document: no network interface");
		goto out;
	}
	if (jsonu_copy_str(nic, "ip", true, out->ip, sizeof(out->ip), e) ||
	    jsonu_copy_str(nic, "mac", false, out->mac, sizeof(out->mac), e) ||
	    jsonu_copy_str(nic, "subnetmask", false, out->netmask, sizeof(out->netmask), e) ||
	    jsonu_get_str(nic, "network", true, 256, &net, e))
		goto bad;
	gcp_url_tail(net, true, out->network, sizeof(out->network));
	if (!is_name(out->network)) {
		mg_err_set(e, "metadata instance document: bad network name");
		goto out;
	}
	if (jsonu_get_object(j, "serviceAccounts", false, &sas, e))
		goto bad;
	sa = sas ? cJSON_GetObjectItemCaseSensitive(sas, "default") : NULL;
	if (sa) {
		if (!cJSON_IsObject(sa) || jsonu_get_array(sa, "scopes", false, 256, &scopes, e)) {
			mg_err_set(e, "metadata instance document: bad default service account");
			goto out;
		}
		out->has_sa = true;
		for (const cJSON *s = scopes ? scopes->child : NULL; s; s = s->next) {
			if (!cJSON_IsString(s))
				continue;
			const char *v = s->valuestring;
			size_t n = strlen(v);
			if ((n >= 8 && !strcmp(v + n - 8, "/compute")) ||
			    (n >= 15 && !strcmp(v + n - 15, "/cloud-platform")))
				out->compute_scope = true;
		}
	}
	rc = 0;
	goto out;
bad:
	mg_err_prefix(e, "metadata instance document");
out:
	cJSON_Delete(j);
	return rc;
}

int gcp_parse_instance(const char *buf, size_t len, bool *can_ip_forward, mg_err *e)
{
	const char *kind = NULL;
	cJSON *j = jsonu_parse(buf, len, GCP_JSON_MAX, e);
	int rc = -1;

	*can_ip_forward = false;
	if (!j)
		return mg_err_prefix(e, "instances.get answer");
	if (jsonu_get_str(j, "kind", true, 64, &kind, e) ||
	    jsonu_get_bool(j, "canIpForward", false, can_ip_forward, e))
		mg_err_prefix(e, "instances.get answer");
	else if (strcmp(kind, "compute#instance"))
		mg_err_set(e, "instances.get answer: kind \"%.64s\"", kind);
	else
		rc = 0;
	cJSON_Delete(j);
	return rc;
}

void gcp_route_list_free(struct gcp_route_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int parse_route_in(const cJSON *it, struct gcp_route *g, mg_err *e)
{
	struct cloud_route *r = &g->r;
	const char *dst = NULL, *net = NULL, *hop = NULL, *type = NULL;
	const cJSON *warn = NULL;
	int64_t prio = 1000;

	if (!cJSON_IsObject(it))
		return mg_err_set(e, "an item is not an object");
	if (jsonu_copy_str(it, "name", true, r->name, sizeof(r->name), e) ||
	    jsonu_get_str(it, "destRange", true, 64, &dst, e) ||
	    jsonu_get_str(it, "network", true, 512, &net, e) ||
	    jsonu_get_int(it, "priority", false, 0, 65535, &prio, e) ||
	    jsonu_get_str(it, "routeType", false, 32, &type, e) ||
	    jsonu_get_array(it, "warnings", false, 64, &warn, e))
		return -1;
	{
		/* descriptions are free text up to 2048: keep what fits */
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "description");
		if (d && !cJSON_IsString(d))
			return mg_err_set(e, "field \"description\" is not a string");
		if (d)
			snprintf(r->description, sizeof(r->description), "%s", d->valuestring);
	}
	g->priority = (int)prio;
	gcp_url_tail(net, true, g->network, sizeof(g->network));
	snprintf(r->origin, sizeof(r->origin), "%s", type ? type : "");
	if (cidr_parse(dst, &r->dst, 0, e) == 0)
		r->has_dst = true;
	else
		mg_err_clear(e); /* a route we cannot read is kept, without a destination */
	r->state = CLOUD_ROUTE_ACTIVE;
	for (const cJSON *w = warn ? warn->child : NULL; w; w = w->next) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(w, "code");
		if (cJSON_IsString(c) && !strncmp(c->valuestring, "NEXT_HOP_", 9))
			r->state = CLOUD_ROUTE_BLACKHOLE;
		else if (cJSON_IsString(c))
			r->state = r->state == CLOUD_ROUTE_ACTIVE ? CLOUD_ROUTE_OTHER : r->state;
	}
	if (type && (!strcmp(type, "SUBNET") || !strcmp(type, "PEERING") || !strcmp(type, "BGP")))
		g->system = true;
	if (jsonu_get_str(it, "nextHopInstance", false, 512, &hop, e))
		return -1;
	if (hop) {
		r->target_kind = CLOUD_TARGET_INSTANCE;
		gcp_url_tail(hop, false, r->target_id, sizeof(r->target_id));
		return 0;
	}
	if (jsonu_get_str(it, "nextHopIp", false, 64, &hop, e))
		return -1;
	if (hop) {
		r->target_kind = CLOUD_TARGET_IP;
		snprintf(r->target_id, sizeof(r->target_id), "%s", hop);
		return 0;
	}
	if (jsonu_get_str(it, "nextHopGateway", false, 512, &hop, e))
		return -1;
	if (hop) {
		r->target_kind = CLOUD_TARGET_GATEWAY;
		gcp_url_tail(hop, true, r->target_id, sizeof(r->target_id));
		if (!strcmp(r->target_id, "default-internet-gateway"))
			g->system = true;
		return 0;
	}
	static const char *const others[] = {"nextHopNetwork",   "nextHopPeering", "nextHopIlb",
					     "nextHopVpnTunnel", "nextHopHub",     NULL};
	r->target_kind = CLOUD_TARGET_OTHER;
	for (size_t i = 0; others[i]; i++) {
		if (jsonu_get_str(it, others[i], false, 512, &hop, e))
			return -1;
		if (hop) {
			gcp_url_tail(hop, true, r->target_id, sizeof(r->target_id));
			if (i <= 1)
				g->system = true;
			break;
		}
	}
	return 0;
}

/* The cloud's own routes say so in origin ("system"): classify reads only the route. */
static int parse_route(const cJSON *it, struct gcp_route *g, mg_err *e)
{
	if (parse_route_in(it, g, e))
		return -1;
	if (g->system)
		snprintf(g->r.origin, sizeof(g->r.origin), "system");
	return 0;
}

int gcp_parse_routes_page(const char *buf, size_t len, struct gcp_route_list *out, char *next,
			  size_t nextlen, mg_err *e)
{
	const cJSON *items = NULL;
	const char *kind = NULL;
	cJSON *j;
	int rc = -1;
	size_t k = 0;

	next[0] = '\0';
	j = jsonu_parse(buf, len, GCP_JSON_MAX, e);
	if (!j)
		return mg_err_prefix(e, "routes.list answer");
	if (jsonu_get_str(j, "kind", true, 64, &kind, e) ||
	    jsonu_get_array(j, "items", false, 500, &items, e) ||
	    jsonu_copy_str(j, "nextPageToken", false, next, nextlen, e)) {
		mg_err_prefix(e, "routes.list answer");
		goto out;
	}
	if (strcmp(kind, "compute#routeList")) {
		mg_err_set(e, "routes.list answer: kind \"%.64s\"", kind);
		goto out;
	}
	for (const cJSON *it = items ? items->child : NULL; it; it = it->next, k++) {
		if (mg_grow((void **)&out->v, &out->cap, out->n + 1, sizeof(*out->v),
			    CLOUD_MAX_ROUTES, e))
			goto pre;
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		if (parse_route(it, &out->v[out->n], e))
			goto pre;
		out->n++;
	}
	rc = 0;
	goto out;
pre:
	mg_err_prefix(e, "routes.list answer, item %zu", k);
out:
	cJSON_Delete(j);
	return rc;
}

int gcp_parse_operation(const char *buf, size_t len, struct gcp_op *op, mg_err *e)
{
	const char *kind = NULL, *status = NULL;
	const cJSON *err = NULL, *errs = NULL;
	int64_t hs = 0;
	cJSON *j;
	int rc = -1;

	memset(op, 0, sizeof(*op));
	j = jsonu_parse(buf, len, 1u << 20, e);
	if (!j)
		return mg_err_prefix(e, "Operation");
	if (jsonu_get_str(j, "kind", true, 64, &kind, e) ||
	    jsonu_copy_str(j, "name", true, op->name, sizeof(op->name), e) ||
	    jsonu_get_str(j, "status", true, 32, &status, e) ||
	    jsonu_get_object(j, "error", false, &err, e) ||
	    jsonu_get_int(j, "httpErrorStatusCode", false, 0, 599, &hs, e) ||
	    (err && jsonu_get_array(err, "errors", true, 64, &errs, e))) {
		mg_err_prefix(e, "Operation");
		goto out;
	}
	if (strcmp(kind, "compute#operation")) {
		mg_err_set(e, "Operation: kind \"%.64s\"", kind);
		goto out;
	}
	if (!op->name[0] ||
	    strspn(op->name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(op->name)) {
		mg_err_set(e, "Operation: bad name");
		goto out;
	}
	if (!strcmp(status, "PENDING"))
		op->status = GCP_OP_PENDING;
	else if (!strcmp(status, "RUNNING"))
		op->status = GCP_OP_RUNNING;
	else if (!strcmp(status, "DONE"))
		op->status = GCP_OP_DONE;
	else {
		mg_err_set(e, "Operation %s: unknown status \"%.32s\"", op->name, status);
		goto out;
	}
	op->http_status = (long)hs;
	if (errs && cJSON_GetArraySize(errs) > 0) {
		const cJSON *x = cJSON_GetArrayItem(errs, 0);
		op->failed = true;
		if (!cJSON_IsObject(x)) {
			mg_err_set(e, "Operation %s: error item is not an object", op->name);
			goto out;
		}
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(x, "code");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(x, "message");
		if (cJSON_IsString(c))
			snprintf(op->err_code, sizeof(op->err_code), "%s", c->valuestring);
		if (cJSON_IsString(m))
			snprintf(op->err_message, sizeof(op->err_message), "%s", m->valuestring);
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

/* The text between "<before>'" and "'" in `msg`. */
static void quoted_after(const char *msg, const char *before, char *out, size_t outlen)
{
	const char *p = strstr(msg, before), *q;

	out[0] = '\0';
	if (!p)
		return;
	p += strlen(before);
	q = strchr(p, '\'');
	if (q && (size_t)(q - p) < outlen && q > p)
		snprintf(out, outlen, "%.*s", (int)(q - p), p);
}

void gcp_parse_error(const char *buf, size_t len, long http_status, struct gcp_error *err)
{
	mg_err e;
	cJSON *j = NULL;
	const cJSON *o = NULL, *errs = NULL, *det = NULL;

	memset(err, 0, sizeof(*err));
	err->http_status = http_status;
	if (buf && len)
		j = jsonu_parse(buf, len, 1u << 20, &e);
	if (j && jsonu_get_object(j, "error", true, &o, &e) == 0 && o) {
		int64_t code = 0;
		if (jsonu_get_int(o, "code", false, 0, 999, &code, &e) == 0)
			err->code = (long)code;
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "status");
		if (cJSON_IsString(m))
			snprintf(err->message, sizeof(err->message), "%s", m->valuestring);
		if (cJSON_IsString(s))
			snprintf(err->status, sizeof(err->status), "%s", s->valuestring);
		if (jsonu_get_array(o, "errors", false, 64, &errs, &e) == 0 && errs) {
			const cJSON *x = cJSON_GetArrayItem(errs, 0);
			const cJSON *r = cJSON_IsObject(x)
					     ? cJSON_GetObjectItemCaseSensitive(x, "reason")
					     : NULL;
			if (cJSON_IsString(r))
				snprintf(err->reason, sizeof(err->reason), "%s", r->valuestring);
		}
		if (jsonu_get_array(o, "details", false, 64, &det, &e) == 0 && det)
			for (const cJSON *d = det->child; d; d = d->next) {
				const cJSON *r = cJSON_IsObject(d)
						     ? cJSON_GetObjectItemCaseSensitive(d, "reason")
						     : NULL;
				if (cJSON_IsString(r) &&
				    !strcmp(r->valuestring, "ACCESS_TOKEN_SCOPE_INSUFFICIENT"))
					err->scope = true;
			}
	}
	cJSON_Delete(j);
	/* messages are the API's: keep them printable */
	for (char *p = err->message; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	quoted_after(err->message, "Required '", err->permission, sizeof(err->permission));
	if (strspn(err->permission, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.") !=
	    strlen(err->permission))
		err->permission[0] = '\0';
	quoted_after(err->message, "Quota '", err->quota, sizeof(err->quota));
	if (!strcmp(err->reason, "insufficientPermissions"))
		err->scope = true;
	err->auth = http_status == 401;
	err->retryable = http_status == 0 || http_status == 429 || http_status >= 500 ||
			 (http_status == 403 && (!strcmp(err->reason, "rateLimitExceeded") ||
						 !strcmp(err->reason, "userRateLimitExceeded")));
}

enum cloud_err_kind gcp_err_kind(const struct gcp_error *err)
{
	const char *r = err->reason;

	if (err->aborted)
		return CLOUD_ERR_ABORTED;
	if (err->http_status == 429 || !strcmp(r, "rateLimitExceeded") ||
	    !strcmp(r, "userRateLimitExceeded"))
		return CLOUD_ERR_THROTTLED;
	if (!strcmp(r, "quotaExceeded") || err->quota[0])
		return CLOUD_ERR_LIMIT;
	if (err->http_status == 401 || err->http_status == 403)
		return CLOUD_ERR_UNAUTHORIZED;
	if (err->http_status == 404)
		return CLOUD_ERR_NOT_FOUND;
	if (err->http_status == 409)
		return CLOUD_ERR_CONFLICT;
	if (err->retryable)
		return CLOUD_ERR_TRANSIENT;
	return CLOUD_ERR_FATAL;
}

enum cloud_err_kind gcp_op_err_kind(const struct gcp_op *op)
{
	const char *c = op->err_code;

	if (!op->failed)
		return CLOUD_OK;
	if (strstr(c, "QUOTA"))
		return CLOUD_ERR_LIMIT;
	if (!strcmp(c, "RESOURCE_NOT_FOUND") || op->http_status == 404)
		return CLOUD_ERR_NOT_FOUND;
	if (!strcmp(c, "ALREADY_EXISTS") || !strcmp(c, "RESOURCE_ALREADY_EXISTS") ||
	    op->http_status == 409)
		return CLOUD_ERR_CONFLICT;
	if (op->http_status == 403)
		return CLOUD_ERR_UNAUTHORIZED;
	if (op->http_status == 429 || op->http_status >= 500 || !strcmp(c, "INTERNAL_ERROR"))
		return CLOUD_ERR_TRANSIENT;
	return CLOUD_ERR_FATAL;
}
