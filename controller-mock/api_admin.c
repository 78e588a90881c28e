/* SPDX-License-Identifier: MIT */
/* Admin API: networks, connectors, the hub. Bearer admin token (checked in http.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connstr.h"
#include "egress.h"
#include "ha.h"
#include "http.h"
#include "identity.h"
#include "jsonu.h"
#include "log.h"

static cJSON *conn_to_api_json(const struct ctl_ctx *ctx, const struct ctl_connector *c)
{
	cJSON *o = cJSON_CreateObject();
	char b[CIDR_STRLEN], key[WG_KEY_B64_LEN];
	bool ok;

	if (!o)
		return NULL;
	ok = cJSON_AddStringToObject(o, "id", c->id) &&
	     cJSON_AddStringToObject(o, "name", c->name) &&
	     cJSON_AddStringToObject(o, "network_id", c->network_id) &&
	     cJSON_AddStringToObject(o, "state", conn_state_name(conn_state(c))) &&
	     cJSON_AddNumberToObject(o, "created_at", (double)c->created_at) &&
	     cJSON_AddNumberToObject(o, "token_expires_at", (double)c->token_expires_at) &&
	     cJSON_AddBoolToObject(o, "token_used", c->token_used);
	if (ok && c->enrolled) {
		struct cidr a, a6;
		store_addr(&ctx->store, c->addr_index, &a);
		wgkey_to_base64(c->public_key, key);
		ok = cJSON_AddStringToObject(o, "tunnel_address", cidr_format_addr(&a, b)) &&
		     (store_addr6(&ctx->store, c->addr_index, &a6)
			  ? cJSON_AddStringToObject(o, "tunnel_address6", cidr_format_addr(&a6, b))
			  : cJSON_AddNullToObject(o, "tunnel_address6")) &&
		     cJSON_AddNumberToObject(o, "enrolled_at", (double)c->enrolled_at) &&
		     (c->last_seen ? cJSON_AddNumberToObject(o, "last_seen", (double)c->last_seen)
				   : cJSON_AddNullToObject(o, "last_seen")) &&
		     cJSON_AddStringToObject(o, "public_key", key) &&
		     cJSON_AddStringToObject(o, "hostname", c->hostname) &&
		     cJSON_AddStringToObject(o, "agent_version", c->agent_version) &&
		     cJSON_AddNumberToObject(o, "config_version", (double)c->version) &&
		     ident_to_api_json(o, c);
	} else if (ok) {
		ok = cJSON_AddNullToObject(o, "tunnel_address") &&
		     cJSON_AddNullToObject(o, "tunnel_address6") &&
		     cJSON_AddNullToObject(o, "enrolled_at") &&
		     cJSON_AddNullToObject(o, "last_seen") &&
		     cJSON_AddNullToObject(o, "public_key") &&
		     cJSON_AddNullToObject(o, "hostname") &&
		     cJSON_AddNullToObject(o, "agent_version") &&
		     cJSON_AddNullToObject(o, "config_version");
	}
	if (ok) {
		cJSON *st = c->status ? cJSON_Duplicate(c->status, true) : cJSON_CreateNull();
		ok = st && cJSON_AddItemToObject(o, "status", st);
		if (!ok)
			cJSON_Delete(st);
	}
	ok = ok && ha_conn_json(&ctx->store, c, o) == 0;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

enum MHD_Result api_networks_list(struct req *r)
{
	const struct ctl_store *s = &r->ctx->store;
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = root ? cJSON_AddArrayToObject(root, "networks") : NULL;

	if (!arr)
		goto oom;
	for (size_t i = 0; i < s->n_nets; i++) {
		cJSON *n = net_to_json(s->nets[i]);
		if (!n || !cJSON_AddItemToArray(arr, n)) {
			cJSON_Delete(n);
			goto oom;
		}
	}
	return reply_json(r, 200, root);
oom:
	cJSON_Delete(root);
	return reply_oom(r);
}

enum MHD_Result api_networks_create(struct req *r)
{
	struct ctl_ctx *ctx = r->ctx;
	enum MHD_Result res;
	struct ctl_network *n;
	const char *code;
	mg_err e = {0};
	cJSON *j = req_json(r, &res);

	if (!j)
		return res;
	n = calloc(1, sizeof(*n));
	if (!n) {
		cJSON_Delete(j);
		return reply_oom(r);
	}
	if (net_from_json(n, j, NET_CREATE, &code, &e) < 0) {
		res = reply_error(r, 400, code, "%s", e.msg);
		goto out;
	}
	if (store_new_id(&ctx->store, 'n', n->id, &e) < 0) {
		res = reply_error(r, 500, "internal", "%s", e.msg);
		goto out;
	}
	n->created_at = now_unix();
	if (net_check_conflicts(&ctx->store, n, &e) < 0) {
		res = reply_error(r, 409, "subnet_conflict", "%s", e.msg);
		goto out;
	}
	if (egress_check_conflict(&ctx->store, n, &e) < 0) {
		res = reply_error(r, 409, "egress_conflict", "%s", e.msg);
		goto out;
	}
	if (net_check_limits(&ctx->store, n, &e) < 0) {
		res = reply_error(r, 409, "limit_reached", "%s", e.msg);
		goto out;
	}
	if (store_add_net(&ctx->store, n, &e) < 0) {
		res = reply_error(r, 409, "limit_reached", "%s", e.msg);
		goto out;
	}
	store_touch_nets(&ctx->store); /* no connector record changed, their documents may */
	if (ctl_commit(ctx, &e) < 0) {
		cJSON_Delete(j);
		return reply_commit_failed(r, &e);
	}
	log_info("network %s (%s) created", n->id, n->name);
	cJSON_Delete(j);
	return reply_json(r, 201, net_to_json(n));
out:
	net_free(n);
	cJSON_Delete(j);
	return res;
}

enum MHD_Result api_network_get(struct req *r)
{
	struct ctl_network *n = store_find_net(&r->ctx->store, r->id);
	if (!n)
		return reply_error(r, 404, "not_found", "no network %s", r->id);
	return reply_json(r, 200, net_to_json(n));
}

/* A deep copy through the store form (the same validation as loading). */
static struct ctl_network *net_clone(const struct ctl_network *n, mg_err *e)
{
	struct ctl_network *c = calloc(1, sizeof(*c));
	cJSON *j = net_to_json(n);
	const char *code;

	if (!c || !j || net_from_json(c, j, NET_STORE, &code, e) < 0) {
		if (!c || !j)
			mg_err_set(e, "out of memory");
		net_free(c);
		cJSON_Delete(j);
		return NULL;
	}
	cJSON_Delete(j);
	return c;
}

enum MHD_Result api_network_patch(struct req *r)
{
	struct ctl_ctx *ctx = r->ctx;
	struct ctl_store *s = &ctx->store;
	struct ctl_network *n = store_find_net(s, r->id), *c = NULL;
	enum MHD_Result res;
	const char *code;
	mg_err e = {0};
	cJSON *j;

	if (!n)
		return reply_error(r, 404, "not_found", "no network %s", r->id);
	j = req_json(r, &res);
	if (!j)
		return res;
	c = net_clone(n, &e);
	if (!c) {
		res = reply_error(r, 500, "internal", "%s", e.msg);
		goto out;
	}
	if (net_from_json(c, j, NET_PATCH, &code, &e) < 0) {
		res = reply_error(r, 400, code, "%s", e.msg);
		goto out;
	}
	if (net_check_conflicts(s, c, &e) < 0) {
		res = reply_error(r, 409, "subnet_conflict", "%s", e.msg);
		goto out;
	}
	if (egress_check_conflict(s, c, &e) < 0) {
		res = reply_error(r, 409, "egress_conflict", "%s", e.msg);
		goto out;
	}
	if (net_check_limits(s, c, &e) < 0) {
		res = reply_error(r, 409, "limit_reached", "%s", e.msg);
		goto out;
	}
	for (size_t i = 0; i < s->n_nets; i++)
		if (s->nets[i] == n)
			s->nets[i] = c;
	net_free(n);
	n = c;
	c = NULL;
	store_touch_nets(s); /* no connector record changed, their documents may */
	if (ctl_commit(ctx, &e) < 0) {
		cJSON_Delete(j);
		return reply_commit_failed(r, &e);
	}
	log_info("network %s (%s) changed", n->id, n->name);
	res = reply_json(r, 200, net_to_json(n));
out:
	net_free(c);
	cJSON_Delete(j);
	return res;
}

enum MHD_Result api_connector_create(struct req *r)
{
	static const char *const keys[] = {"name", "token_ttl", NULL};
	struct ctl_ctx *ctx = r->ctx;
	struct ctl_network *n = store_find_net(&ctx->store, r->id);
	struct ctl_connector *c = NULL;
	char tok[CTL_SECRET_LEN + 1], cs[CONNSTR_MAX];
	struct connstr conn = {0};
	int64_t ttl = ctx->token_ttl;
	enum MHD_Result res;
	const char *name = NULL;
	mg_err e = {0};
	cJSON *j, *out;

	if (!n)
		return reply_error(r, 404, "not_found", "no network %s", r->id);
	j = req_json(r, &res);
	if (!j)
		return res;
	if (jsonu_only_keys(j, keys, "connector", &e) < 0 ||
	    jsonu_get_str(j, "name", true, CTL_NAME_MAX - 1, &name, &e) < 0 ||
	    jsonu_get_int(j, "token_ttl", false, 1, 365LL * 86400, &ttl, &e) < 0) {
		res = reply_error(r, 400, "invalid_request", "%s", e.msg);
		goto out;
	}
	if (!*name) {
		res = reply_error(r, 400, "invalid_request", "\"name\" must not be empty");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		res = reply_oom(r);
		goto out;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->network_id, sizeof(c->network_id), "%s", n->id);
	c->created_at = now_unix();
	c->token_expires_at = c->created_at + ttl;
	if (store_new_id(&ctx->store, 'c', c->id, &e) < 0 || secret_new(tok, &e) < 0) {
		res = reply_error(r, 500, "internal", "%s", e.msg);
		goto out;
	}
	sha256_str(tok, strlen(tok), c->token_hash);
	snprintf(conn.url, sizeof(conn.url), "%s", ctx->public_url);
	snprintf(conn.token, sizeof(conn.token), "%s", tok);
	snprintf(conn.pin, sizeof(conn.pin), "%s", ctx->pin);
	if (connstr_format(&conn, cs, sizeof(cs), &e) < 0) {
		res = reply_error(r, 500, "internal", "connection string: %s", e.msg);
		goto out;
	}
	if (store_add_conn(&ctx->store, c, &e) < 0) {
		res = reply_error(r, 409, "limit_reached", "%s", e.msg);
		goto out;
	}
	store_touch_conn(&ctx->store, c); /* the only record changed: saved alone */
	if (ctl_commit(ctx, &e) < 0) {
		cJSON_Delete(j);
		return reply_commit_failed(r, &e);
	}
	log_info("connector %s (%s) created in network %s", c->id, c->name, n->id);
	cJSON_Delete(j);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "id", c->id) ||
	    !cJSON_AddStringToObject(out, "name", c->name) ||
	    !cJSON_AddStringToObject(out, "network_id", c->network_id) ||
	    !cJSON_AddStringToObject(out, "token", tok) ||
	    !cJSON_AddNumberToObject(out, "token_expires_at", (double)c->token_expires_at) ||
	    !cJSON_AddStringToObject(out, "connection_string", cs)) {
		cJSON_Delete(out);
		return reply_oom(r);
	}
	return reply_json(r, 201, out);
out:
	free(c);
	cJSON_Delete(j);
	return res;
}

enum MHD_Result api_connectors_list(struct req *r)
{
	const struct ctl_store *s = &r->ctx->store;
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = root ? cJSON_AddArrayToObject(root, "connectors") : NULL;
	mg_err e = {0};

	if (!arr)
		goto oom;
	for (size_t i = 0; i < s->n_conns; i++) {
		if (ctl_settle(r->ctx, s->conns[i], &e) < 0) { /* config_version */
			cJSON_Delete(root);
			return reply_error(r, 500, "internal", "%s", e.msg);
		}
		cJSON *c = conn_to_api_json(r->ctx, s->conns[i]);
		if (!c || !cJSON_AddItemToArray(arr, c)) {
			cJSON_Delete(c);
			goto oom;
		}
	}
	return reply_json(r, 200, root);
oom:
	cJSON_Delete(root);
	return reply_oom(r);
}

enum MHD_Result api_connector_get(struct req *r)
{
	struct ctl_connector *c = store_find_conn(&r->ctx->store, r->id);
	mg_err e = {0};

	if (!c)
		return reply_error(r, 404, "not_found", "no connector %s", r->id);
	if (ctl_settle(r->ctx, c, &e) < 0) /* config_version */
		return reply_error(r, 500, "internal", "%s", e.msg);
	return reply_json(r, 200, conn_to_api_json(r->ctx, c));
}

enum MHD_Result api_connector_delete(struct req *r)
{
	struct ctl_connector *c = store_find_conn(&r->ctx->store, r->id);
	mg_err e = {0};

	if (!c)
		return reply_error(r, 404, "not_found", "no connector %s", r->id);
	if (!c->revoked) {
		c->revoked = true;
		c->wake = true;
		if (ctl_commit(r->ctx, &e) < 0)
			return reply_commit_failed(r, &e);
		log_info("connector %s (%s) revoked", c->id, c->name);
	}
	return reply_empty(r, 204, NULL);
}

static enum MHD_Result set_disabled(struct req *r, bool disabled)
{
	struct ctl_connector *c = store_find_conn(&r->ctx->store, r->id);
	mg_err e = {0};

	if (!c)
		return reply_error(r, 404, "not_found", "no connector %s", r->id);
	if (c->revoked)
		return reply_error(r, 409, "connector_revoked",
				   "connector %s was revoked; create a new one", c->id);
	if (c->disabled != disabled) {
		c->disabled = disabled;
		c->wake = true;
		if (ctl_commit(r->ctx, &e) < 0)
			return reply_commit_failed(r, &e);
		log_info("connector %s (%s) %s", c->id, c->name, disabled ? "disabled" : "enabled");
	}
	if (ctl_settle(r->ctx, c, &e) < 0) /* config_version */
		return reply_error(r, 500, "internal", "%s", e.msg);
	return reply_json(r, 200, conn_to_api_json(r->ctx, c));
}

enum MHD_Result api_connector_disable(struct req *r)
{
	return set_disabled(r, true);
}

enum MHD_Result api_connector_enable(struct req *r)
{
	return set_disabled(r, false);
}

enum MHD_Result api_hub(struct req *r)
{
	const struct ctl_ctx *ctx = r->ctx;
	char key[WG_KEY_B64_LEN], b[CIDR_STRLEN], m[CIDR_STRLEN];
	struct cidr a;
	cJSON *o = cJSON_CreateObject();

	store_addr(&ctx->store, 1, &a);
	a.len = ctx->store.mesh.len;
	wgkey_to_base64(ctx->hub_pub, key);
	if (!o || !cJSON_AddStringToObject(o, "public_key", key) ||
	    !cJSON_AddStringToObject(o, "endpoint", ctx->hub_endpoint) ||
	    !cJSON_AddStringToObject(o, "mesh_range", cidr_format(&ctx->store.mesh, m)) ||
	    !cJSON_AddStringToObject(o, "address", cidr_format(&a, b))) {
		cJSON_Delete(o);
		return reply_oom(r);
	}
	if (store_addr6(&ctx->store, 1, &a)) {
		a.len = ctx->store.mesh6.len;
		if (!cJSON_AddStringToObject(o, "mesh_range6", cidr_format(&ctx->store.mesh6, m)) ||
		    !cJSON_AddStringToObject(o, "address6", cidr_format(&a, b))) {
			cJSON_Delete(o);
			return reply_oom(r);
		}
	} else if (!cJSON_AddNullToObject(o, "mesh_range6") ||
		   !cJSON_AddNullToObject(o, "address6")) {
		cJSON_Delete(o);
		return reply_oom(r);
	}
	return reply_json(r, 200, o);
}
