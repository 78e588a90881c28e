/* SPDX-License-Identifier: MIT */
/*
 * Admin API: remote users. A user is a WireGuard peer of the hub holding one address of
 * the mesh range; creating one answers a wg-quick config. When the admin sends no public
 * key the controller makes a key pair for convenience: the private key lives only in this
 * one answer (wiped afterwards) and never in the store or the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress.h"
#include "http.h"
#include "jsonu.h"
#include "log.h"

static const char *user_state_name(const struct ctl_user *u)
{
	return u->revoked ? "revoked" : u->disabled ? "disabled" : "active";
}

/* id, name, address, address6, public_key: the fields every user object has. */
static bool user_base_json(const struct ctl_ctx *ctx, const struct ctl_user *u, cJSON *o)
{
	char b[CIDR_STRLEN], key[WG_KEY_B64_LEN];
	struct cidr a, a6;

	store_addr(&ctx->store, u->addr_index, &a);
	wgkey_to_base64(u->public_key, key);
	return cJSON_AddStringToObject(o, "id", u->id) &&
	       cJSON_AddStringToObject(o, "name", u->name) &&
	       cJSON_AddStringToObject(o, "address", cidr_format(&a, b)) &&
	       (store_addr6(&ctx->store, u->addr_index, &a6)
		    ? cJSON_AddStringToObject(o, "address6", cidr_format(&a6, b)) != NULL
		    : cJSON_AddNullToObject(o, "address6") != NULL) &&
	       cJSON_AddStringToObject(o, "public_key", key);
}

/* full_tunnel without an egress network would send everything into a tunnel that has no
 * way out: refused (docs/API.md, "Internet egress") */
static enum MHD_Result reply_no_egress(struct req *r)
{
	return reply_error(r, 409, "no_egress_network",
			   "\"full_tunnel\" needs a network with \"egress\": true (none has it)");
}

static cJSON *user_to_api_json(const struct ctl_ctx *ctx, const struct ctl_user *u)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !user_base_json(ctx, u, o) ||
	    !cJSON_AddNumberToObject(o, "created_at", (double)u->created_at) ||
	    !cJSON_AddStringToObject(o, "state", user_state_name(u)) ||
	    !cJSON_AddBoolToObject(o, "disabled", u->disabled) ||
	    !cJSON_AddBoolToObject(o, "full_tunnel", u->full_tunnel)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

enum MHD_Result api_users_list(struct req *r)
{
	const struct ctl_store *s = &r->ctx->store;
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = root ? cJSON_AddArrayToObject(root, "users") : NULL;

	if (!arr)
		goto oom;
	for (size_t i = 0; i < s->n_users; i++) {
		cJSON *u = user_to_api_json(r->ctx, s->users[i]);
		if (!u || !cJSON_AddItemToArray(arr, u)) {
			cJSON_Delete(u);
			goto oom;
		}
	}
	return reply_json(r, 200, root);
oom:
	cJSON_Delete(root);
	return reply_oom(r);
}

enum MHD_Result api_user_create(struct req *r)
{
	static const char *const keys[] = {"name", "public_key", "full_tunnel", NULL};
	struct ctl_ctx *ctx = r->ctx;
	struct ctl_store *s = &ctx->store;
	struct ctl_user *u = NULL;
	const char *name = NULL, *pub = NULL, *owner;
	uint8_t priv[WG_KEY_LEN];
	char priv_b64[WG_KEY_B64_LEN] = "", *conf = NULL;
	bool generated = false, full = false;
	enum MHD_Result res;
	mg_err e = {0};
	cJSON *j = req_json(r, &res), *out;

	if (!j)
		return res;
	if (jsonu_only_keys(j, keys, "user", &e) < 0 ||
	    jsonu_get_str(j, "name", true, CTL_NAME_MAX - 1, &name, &e) < 0 ||
	    ctl_check_name(name, &e) < 0 ||
	    jsonu_get_str(j, "public_key", false, 64, &pub, &e) < 0 ||
	    jsonu_get_bool(j, "full_tunnel", false, &full, &e) < 0) {
		res = reply_error(r, 400, "invalid_request", "%s", e.msg);
		goto out;
	}
	if (full && !egress_net(s)) {
		res = reply_no_egress(r);
		goto out;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		res = reply_oom(r);
		goto out;
	}
	if (pub && wgkey_from_base64(pub, u->public_key) < 0) {
		res = reply_error(r, 400, "invalid_request",
				  "\"public_key\" is not a base64 WireGuard public key");
		goto out;
	}
	if (!pub) {
		if (wgkey_generate(priv, &e) < 0 || wgkey_public(priv, u->public_key, &e) < 0) {
			wgkey_wipe(priv, sizeof(priv));
			res = reply_error(r, 500, "internal", "%s", e.msg);
			goto out;
		}
		wgkey_to_base64(priv, priv_b64);
		wgkey_wipe(priv, sizeof(priv));
		generated = true;
	}
	owner = store_key_owner(s, u->public_key);
	if (owner) {
		res = reply_error(r, 409, "public_key_in_use", "this WireGuard key belongs to %s",
				  owner);
		goto out;
	}
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->full_tunnel = full;
	u->created_at = now_unix();
	if (store_new_id(s, 'u', u->id, &e) < 0) {
		res = reply_error(r, 500, "internal", "%s", e.msg);
		goto out;
	}
	if (s->n_users >= CTL_MAX_USERS) {
		res = reply_error(r, 409, "limit_reached",
				  "too many users (the mock keeps at most %d)", CTL_MAX_USERS);
		goto out;
	}
	/* the address is taken only once nothing else can refuse the request */
	if (store_alloc_addr(s, &u->addr_index, &e) < 0) {
		res = reply_error(r, 409, "mesh_range_full", "%s", e.msg);
		goto out;
	}
	conf = user_config_text(ctx, u, generated ? priv_b64 : NULL, &e);
	if (!conf) {
		s->next_addr--; /* nothing saw the address yet */
		res = reply_error(r, 500, "internal", "%s", e.msg);
		goto out;
	}
	out = cJSON_CreateObject();
	if (!out || !user_base_json(ctx, u, out) || !cJSON_AddStringToObject(out, "config", conf)) {
		if (out)
			json_wipe_strings(out);
		cJSON_Delete(out);
		s->next_addr--;
		res = reply_oom(r);
		goto out;
	}
	if (store_add_user(s, u, &e) < 0) {
		json_wipe_strings(out);
		cJSON_Delete(out);
		s->next_addr--;
		res = reply_error(r, 409, "limit_reached", "%s", e.msg);
		goto out;
	}
	u = NULL; /* the store has it */
	if (ctl_commit(ctx, &e) < 0) {
		json_wipe_strings(out);
		cJSON_Delete(out);
		res = reply_commit_failed(r, &e);
		goto out;
	}
	log_info("user %s (%s) created with address index %llu%s", s->users[s->n_users - 1]->id,
		 s->users[s->n_users - 1]->name,
		 (unsigned long long)s->users[s->n_users - 1]->addr_index,
		 generated ? " (key pair made here; private key handed out once, not kept)" : "");
	res = reply_json_secret(r, 201, out);
out:
	if (conf) {
		wgkey_wipe(conf, strlen(conf));
		free(conf);
	}
	wgkey_wipe(priv_b64, sizeof(priv_b64));
	free(u);
	cJSON_Delete(j);
	return res;
}

enum MHD_Result api_user_delete(struct req *r)
{
	struct ctl_user *u = store_find_user(&r->ctx->store, r->id);
	mg_err e = {0};

	if (!u)
		return reply_error(r, 404, "not_found", "no user %s", r->id);
	if (!u->revoked) {
		u->revoked = true;
		if (ctl_commit(r->ctx, &e) < 0)
			return reply_commit_failed(r, &e);
		log_info("user %s (%s) revoked", u->id, u->name);
	}
	return reply_empty(r, 204, NULL);
}

enum MHD_Result api_user_get(struct req *r)
{
	struct ctl_user *u = store_find_user(&r->ctx->store, r->id);

	if (!u)
		return reply_error(r, 404, "not_found", "no user %s", r->id);
	return reply_json(r, 200, user_to_api_json(r->ctx, u));
}

/*
 * Disable: the hub keeps the user's peer with no allowed IPs (see hub.h), so nothing
 * passes from the next packet on, and enable restores it at once on the same session.
 * The user's address, key and config do not change.
 */
static enum MHD_Result user_set_disabled(struct req *r, bool disabled)
{
	struct ctl_user *u = store_find_user(&r->ctx->store, r->id);
	mg_err e = {0};

	if (!u)
		return reply_error(r, 404, "not_found", "no user %s", r->id);
	if (u->revoked)
		return reply_error(r, 409, "user_revoked", "user %s was deleted; create a new one",
				   u->id);
	if (u->disabled != disabled) {
		u->disabled = disabled;
		if (ctl_commit(r->ctx, &e) < 0)
			return reply_commit_failed(r, &e);
		log_info("user %s (%s) %s", u->id, u->name, disabled ? "disabled" : "enabled");
	}
	return reply_json(r, 200, user_to_api_json(r->ctx, u));
}

enum MHD_Result api_user_disable(struct req *r)
{
	return user_set_disabled(r, true);
}

enum MHD_Result api_user_enable(struct req *r)
{
	return user_set_disabled(r, false);
}

/* The user's wg-quick config again, with the private key placeholder (never kept). */
enum MHD_Result api_user_config(struct req *r)
{
	struct ctl_user *u = store_find_user(&r->ctx->store, r->id);
	mg_err e = {0};
	char *conf;
	cJSON *out;

	if (!u)
		return reply_error(r, 404, "not_found", "no user %s", r->id);
	if (u->revoked)
		return reply_error(r, 409, "user_revoked", "user %s was deleted; create a new one",
				   u->id);
	if (u->disabled)
		return reply_error(r, 403, "user_disabled",
				   "user %s is disabled; enable it first (its config is unchanged)",
				   u->id);
	conf = user_config_text(r->ctx, u, NULL, &e);
	if (!conf)
		return reply_error(r, 500, "internal", "%s", e.msg);
	out = cJSON_CreateObject();
	if (!out || !user_base_json(r->ctx, u, out) ||
	    !cJSON_AddStringToObject(out, "config", conf)) {
		cJSON_Delete(out);
		free(conf);
		return reply_oom(r);
	}
	free(conf);
	return reply_json(r, 200, out);
}

/*
 * PATCH: `name` and `full_tunnel`. The hub does not change (a user's peer allows its own
 * address either way); the user's next config (GET .../config) has the new AllowedIPs.
 */
enum MHD_Result api_user_patch(struct req *r)
{
	static const char *const keys[] = {"name", "full_tunnel", NULL};
	struct ctl_user *u = store_find_user(&r->ctx->store, r->id);
	const char *name = NULL;
	bool full;
	enum MHD_Result res;
	mg_err e = {0};
	cJSON *j;

	if (!u)
		return reply_error(r, 404, "not_found", "no user %s", r->id);
	if (u->revoked)
		return reply_error(r, 409, "user_revoked", "user %s was deleted; create a new one",
				   u->id);
	j = req_json(r, &res);
	if (!j)
		return res;
	full = u->full_tunnel;
	if (jsonu_only_keys(j, keys, "user", &e) < 0 ||
	    jsonu_get_str(j, "name", false, CTL_NAME_MAX - 1, &name, &e) < 0 ||
	    (name && ctl_check_name(name, &e) < 0) ||
	    jsonu_get_bool(j, "full_tunnel", false, &full, &e) < 0) {
		res = reply_error(r, 400, "invalid_request", "%s", e.msg);
		goto out;
	}
	if (full && !u->full_tunnel && !egress_net(&r->ctx->store)) {
		res = reply_no_egress(r);
		goto out;
	}
	if (full != u->full_tunnel || (name && strcmp(name, u->name) != 0)) {
		bool was_full = u->full_tunnel;
		char was_name[CTL_NAME_MAX];
		snprintf(was_name, sizeof(was_name), "%s", u->name);
		u->full_tunnel = full;
		if (name)
			snprintf(u->name, sizeof(u->name), "%s", name);
		if (ctl_commit(r->ctx, &e) < 0) {
			u->full_tunnel = was_full;
			snprintf(u->name, sizeof(u->name), "%s", was_name);
			res = reply_commit_failed(r, &e);
			goto out;
		}
		log_info("user %s (%s) changed: full tunnel %s", u->id, u->name,
			 u->full_tunnel ? "on" : "off");
	}
	res = reply_json(r, 200, user_to_api_json(r->ctx, u));
out:
	cJSON_Delete(j);
	return res;
}
