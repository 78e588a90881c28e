/* SPDX-License-Identifier: MIT */
#include "enroll.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fsutil.h"
#include "jsonu.h"
#include "log.h"
#include "version.h"

#define ENROLL_MAX_ANSWER (16u << 10)

static const char *explain_enroll_error(const char *code)
{
	if (!strcmp(code, "token_used"))
		return "this connection string was already used to enrol a connector; create "
		       "a new connector in the controller to get a fresh one";
	if (!strcmp(code, "token_expired"))
		return "the enrolment token in this connection string has expired; ask the "
		       "controller for a new connection string";
	if (!strcmp(code, "invalid_token"))
		return "the controller does not know this enrolment token (mistyped, or the "
		       "connector was deleted)";
	return NULL;
}

static char *enroll_body(const char *token, const uint8_t pub[WG_KEY_LEN], mg_err *e)
{
	char pub64[WG_KEY_B64_LEN], host[256] = "";
	cJSON *j = cJSON_CreateObject();
	char *txt;

	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	wgkey_to_base64(pub, pub64);
	if (!j || !cJSON_AddStringToObject(j, "token", token) ||
	    !cJSON_AddStringToObject(j, "public_key", pub64) ||
	    !cJSON_AddStringToObject(j, "hostname", host) ||
	    !cJSON_AddStringToObject(j, "agent_version", MG_VERSION)) {
		cJSON_Delete(j);
		mg_err_set(e, "out of memory");
		return NULL;
	}
	txt = jsonu_print(j, e);
	cJSON_Delete(j);
	return txt;
}

/*
 * What a refused enrolment made in the state directory goes again: the key file it
 * wrote, and the directory itself when this attempt created it. The caller's error
 * stays as it is.
 */
static void enroll_undo(const char *state_dir, bool made_dir)
{
	char p[PATH_MAX];

	if (state_path(state_dir, "private.key", p, sizeof(p), NULL) == 0 && unlink(p) < 0 &&
	    errno != ENOENT)
		log_warn("removing %s after the refused enrolment: %s", p, strerror(errno));
	if (made_dir && rmdir(state_dir) < 0 && errno != ENOENT)
		log_warn("removing %s after the refused enrolment: %s", state_dir,
			 strerror(errno));
}

static int enroll_exchange(const struct connstr *cs, const char *state_dir,
			   struct agent_state *st, mg_err *e);

int enroll(const struct connstr *cs, const char *state_dir, const char *ca_file,
	   const char *ifname, struct agent_state *st, mg_err *e)
{
	bool made_dir;

	memset(st, 0, sizeof(*st));
	snprintf(st->target.url, sizeof(st->target.url), "%s", cs->url);
	snprintf(st->target.pin, sizeof(st->target.pin), "%s", cs->pin);
	if (ca_file)
		snprintf(st->target.ca_file, sizeof(st->target.ca_file), "%s", ca_file);
	if (ifname)
		snprintf(st->ifname, sizeof(st->ifname), "%s", ifname);

	made_dir = !fs_exists(state_dir);
	if (fs_mkdir_p(state_dir, 0700, e) < 0 || fs_check_writable_dir(state_dir, e) < 0)
		return -1;
	if (enroll_exchange(cs, state_dir, st, e) < 0) {
		enroll_undo(state_dir, made_dir);
		return -1;
	}
	return 0;
}

/* Key pair, the token exchange, the identity saved. */
static int enroll_exchange(const struct connstr *cs, const char *state_dir,
			   struct agent_state *st, mg_err *e)
{
	struct ctlc_req req;
	char *body, code[64];
	cJSON *ans;
	long status;

	if (wgkey_generate(st->priv, e) < 0 || wgkey_public(st->priv, st->pub, e) < 0)
		return -1;
	/* the key is on disk before the controller ever hears of its public half */
	if (state_save_key(state_dir, st->priv, e) < 0)
		return -1;

	body = enroll_body(cs->token, st->pub, e);
	if (!body)
		return -1;
	int r = ctlc_req_init(&req, &st->target, "/api/v1/enroll", NULL, body, NULL,
			      ENROLL_MAX_ANSWER, 30000, e);
	wgkey_wipe(body, strlen(body));
	cJSON_free(body);
	if (r < 0)
		return -1;
	log_debug("enrolling with %s", st->target.url);
	status = ctlc_perform(&req, e);
	if (status < 0) {
		ctlc_req_free(&req);
		return -1;
	}
	if (status != 201 && status != 200) {
		ctlc_api_error(&req, status, code, sizeof(code), e);
		const char *why = explain_enroll_error(code);
		ctlc_req_free(&req);
		if (why)
			return mg_err_set(e, "enrolment refused (%s): %s", code, why);
		return mg_err_prefix(e, "enrolment refused");
	}
	ans = jsonu_parse(req.body ? req.body : "", req.len, ENROLL_MAX_ANSWER, e);
	ctlc_req_free(&req);
	if (!ans)
		return mg_err_prefix(e, "enrolment answer");
	if (jsonu_copy_str(ans, "device_id", true, st->device_id, sizeof(st->device_id), e) < 0 ||
	    jsonu_copy_str(ans, "device_secret", true, st->secret, sizeof(st->secret), e) < 0 ||
	    jsonu_copy_str(ans, "network_id", false, st->network_id, sizeof(st->network_id), e) <
		    0) {
		cJSON_Delete(ans);
		return mg_err_prefix(e, "enrolment answer");
	}
	cJSON_Delete(ans);
	if (strlen(st->secret) < 16)
		return mg_err_set(e, "enrolment answer: device secret too short");
	st->enrolled_at = (int64_t)time(NULL);
	if (state_save(state_dir, st, e) < 0)
		return mg_err_prefix(e, "enrolled as %s but could not save the identity",
				     st->device_id);
	return 0;
}

long config_fetch(const struct agent_state *st, const char *if_none_match, int wait_s,
		  char **json, size_t *len, char *code, size_t codelen, mg_err *e)
{
	struct ctlc_req req;
	char path[64], hdr[96];
	long status;

	*json = NULL;
	*len = 0;
	code[0] = '\0';
	snprintf(path, sizeof(path), "/api/v1/device/config?wait=%d", wait_s);
	if (if_none_match)
		snprintf(hdr, sizeof(hdr), "If-None-Match: %s", if_none_match);
	if (ctlc_req_init(&req, &st->target, path, st->secret, NULL,
			  if_none_match ? hdr : NULL, CONFIG_MAX_BYTES,
			  (long)(wait_s + 15) * 1000, e) < 0)
		return -1;
	status = ctlc_perform(&req, e);
	if (status == 200) {
		*json = req.body;
		*len = req.len;
		req.body = NULL;
		req.cap = 0;
	} else if (status > 0 && status != 304) {
		ctlc_api_error(&req, status, code, codelen, e);
		status = -1;
	}
	ctlc_req_free(&req);
	return status;
}
