/* SPDX-License-Identifier: MIT */
/* Agent API: enrolment (single-use token), config long-poll, status reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "connstr.h"
#include "ha.h"
#include "http.h"
#include "identity.h"
#include "jsonu.h"
#include "log.h"

/* The connector whose device secret is the bearer token; NULL after replying. */
static struct ctl_connector *device_auth(struct req *r, enum MHD_Result *res)
{
	size_t len = 0;
	const char *tok = req_bearer(r, &len);
	const struct ctl_store *s = &r->ctx->store;
	struct ctl_connector *found = NULL;

	if (tok) {
		uint8_t h[32];
		sha256_str(tok, len, h);
		found = store_find_by_secret(s, h);
	}
	if (!found) {
		*res =
		    reply_error(r, 401, "invalid_credentials", "missing or unknown device secret");
		return NULL;
	}
	if (found->revoked) {
		*res = reply_error(r, 401, "device_revoked",
				   "connector %s was revoked; remove everything and enroll again",
				   found->id);
		return NULL;
	}
	if (found->disabled) {
		*res =
		    reply_error(r, 403, "device_disabled", "connector %s is disabled", found->id);
		return NULL;
	}
	if (ident_check(r, found, res) < 0) /* one identity, one host */
		return NULL;
	ha_renew(r->ctx, found); /* every request renews the connector's lease */
	return found;
}

enum MHD_Result api_enroll(struct req *r)
{
	static const char *const keys[] = {"token", "public_key", "hostname", "agent_version",
					   NULL};
	struct ctl_ctx *ctx = r->ctx;
	struct ctl_store *s = &ctx->store;
	const char *tok = NULL, *pub = NULL, *host = "", *ver = "", *owner;
	char secret[CTL_SECRET_LEN + 1];
	struct ctl_connector *c = NULL;
	uint8_t key[WG_KEY_LEN], h[32];
	enum MHD_Result res;
	mg_err e = {0};
	uint64_t idx;
	cJSON *j = req_json(r, &res), *out;

	if (!j)
		return res;
	if (jsonu_only_keys(j, keys, "enroll", &e) < 0 ||
	    jsonu_get_str(j, "token", true, CONNSTR_TOKEN_MAX, &tok, &e) < 0 ||
	    jsonu_get_str(j, "public_key", true, 64, &pub, &e) < 0 ||
	    jsonu_get_str(j, "hostname", false, sizeof(c->hostname) - 1, &host, &e) < 0 ||
	    jsonu_get_str(j, "agent_version", false, sizeof(c->agent_version) - 1, &ver, &e) < 0) {
		res = reply_error(r, 400, "invalid_request", "%s", e.msg);
		goto out;
	}
	if (wgkey_from_base64(pub, key) < 0) {
		res = reply_error(r, 400, "invalid_request",
				  "\"public_key\" is not a base64 WireGuard public key");
		goto out;
	}
	sha256_str(tok, strlen(tok), h);
	c = store_find_by_token(s, h);
	if (c && c->token_used) {
		res = reply_error(r, 409, "token_used",
				  "this enrolment token was already used; create a new connector");
		goto out;
	}
	if (!c || c->revoked) {
		res = reply_error(r, 401, "invalid_token", "unknown enrolment token");
		goto out;
	}
	if (now_unix() >= c->token_expires_at) {
		res = reply_error(r, 410, "token_expired",
				  "this enrolment token expired; create a new connector");
		goto out;
	}
	owner = store_key_owner(s, key);
	if (owner) {
		res = reply_error(r, 409, "public_key_in_use", "this WireGuard key belongs to %s",
				  owner);
		goto out;
	}
	if (ident_enrol(r, c, &res) < 0)
		goto out;
	if (store_alloc_addr(s, &idx, &e) < 0) {
		res = reply_error(r, 409, "mesh_range_full", "%s", e.msg);
		goto out;
	}
	if (secret_new(secret, &e) < 0) {
		res = reply_error(r, 500, "internal", "%s", e.msg);
		goto out;
	}
	sha256_str(secret, strlen(secret), c->secret_hash);
	memcpy(c->public_key, key, WG_KEY_LEN);
	c->addr_index = idx;
	snprintf(c->hostname, sizeof(c->hostname), "%s", host);
	snprintf(c->agent_version, sizeof(c->agent_version), "%s", ver);
	c->enrolled_at = now_unix();
	c->token_used = true;
	c->enrolled = true;
	store_touch_conn(s, c); /* the only record changed: saved and rendered alone */
	if (ctl_commit(ctx, &e) < 0) {
		cJSON_Delete(j);
		return reply_commit_failed(r, &e);
	}
	log_info("connector %s (%s) enrolled from host \"%s\"", c->id, c->name, c->hostname);
	cJSON_Delete(j);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "device_id", c->id) ||
	    !cJSON_AddStringToObject(out, "device_secret", secret) ||
	    !cJSON_AddStringToObject(out, "network_id", c->network_id)) {
		cJSON_Delete(out);
		return reply_oom(r);
	}
	return reply_json(r, 201, out);
out:
	cJSON_Delete(j);
	return res;
}

/* "7", "\"7\"" or W/"7"; -1 when absent or not a version. */
static int64_t parse_inm(const char *h)
{
	char *end;
	long long v;

	if (!h)
		return -1;
	if (!strncmp(h, "W/", 2))
		h += 2;
	if (*h == '"')
		h++;
	if (*h < '0' || *h > '9')
		return -1;
	v = strtoll(h, &end, 10);
	if (*end == '"')
		end++;
	return *end || v < 0 ? -1 : (int64_t)v;
}

static enum MHD_Result send_config(struct req *r, struct ctl_connector *c)
{
	char etag[32];
	mg_err e = {0};
	char *txt;

	snprintf(etag, sizeof(etag), "\"%lld\"", (long long)c->version);
	if (r->w.if_none_match == c->version)
		return reply_empty(r, 304, etag);
	txt = render_answer(r->ctx, c, &e);
	if (!txt)
		return reply_error(r, 500, "internal", "%s", e.msg);
	return reply_text(r, 200, txt, etag);
}

enum MHD_Result api_device_config(struct req *r)
{
	struct ctl_waiter *w = &r->w;
	struct ctl_connector *c;
	enum MHD_Result res;
	const char *q;
	int64_t wait = 0;
	mg_err e = {0};

	if (w->started) {
		/* resumed: by a change, a deadline, or shutdown */
		c = w->conn;
		if (w->dropped)
			return MHD_NO; /* the agent hung up while waiting: close */
		if (r->ctx->failed)    /* its version may not be on disk */
			return reply_error(r, 503, "shutting_down",
					   "the controller is stopping; retry");
		if (w->shutdown)
			return reply_error(r, 503, "shutting_down",
					   "the controller is stopping; retry");
		if (c->revoked)
			return reply_error(r, 401, "device_revoked", "connector %s was revoked",
					   c->id);
		if (c->disabled)
			return reply_error(r, 403, "device_disabled", "connector %s is disabled",
					   c->id);
		if (ctl_settle(r->ctx, c, &e) < 0) /* stale when woken by its deadline */
			return reply_error(r, 500, "internal", "%s", e.msg);
		if (c->version != w->if_none_match || now_mono_ms() >= w->deadline_ms)
			return send_config(r, c);
		longpoll_suspend(r, c, w->deadline_ms);
		return MHD_YES;
	}
	c = device_auth(r, &res);
	if (!c)
		return res;
	if (ctl_settle(r->ctx, c, &e) < 0) /* its version, before comparing it */
		return reply_error(r, 500, "internal", "%s", e.msg);
	q = req_query(r, "wait");
	if (q) {
		char *end;
		long v = strtol(q, &end, 10);
		if (!*q || *end || v < 0 || v > CTL_WAIT_MAX)
			return reply_error(r, 400, "invalid_request",
					   "\"wait\" must be 0 to %d seconds", CTL_WAIT_MAX);
		wait = v;
	}
	w->if_none_match = parse_inm(req_header(r, "If-None-Match"));
	if (wait == 0 || c->version != w->if_none_match)
		return send_config(r, c);
	/* +1: now_mono_ms() truncates, and a waiter is never answered before its full wait */
	longpoll_suspend(r, c, ha_longpoll_deadline(r->ctx, c, now_mono_ms() + wait * 1000 + 1));
	return MHD_YES;
}

enum MHD_Result api_device_status(struct req *r)
{
	struct ctl_connector *c;
	enum MHD_Result res;
	mg_err e = {0};
	cJSON *j;

	c = device_auth(r, &res);
	if (!c)
		return res;
	j = req_json(r, &res);
	if (!j)
		return res;
	cJSON *old = c->status;
	c->status = j;
	c->last_seen = now_unix();
	store_touch_conn(&r->ctx->store, c); /* the only record changed */
	ha_touch_peers(r->ctx, c, old);      /* HA: the others' configs name this one's next hop */
	cJSON_Delete(old);
	if (ctl_commit(r->ctx, &e) < 0)
		return reply_commit_failed(r, &e);
	return reply_empty(r, 204, NULL);
}
