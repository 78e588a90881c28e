/* SPDX-License-Identifier: MIT */
#include "ctlc.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "hostid.h"
#include "httpc.h"
#include "jsonu.h"
#include "version.h"

#define CTLC_ENROLL_MAX (16u << 10)
#define CTLC_STATUS_MAX (64u << 10)

struct ctlc_req {
	CURL *h;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	char url[512];
	struct mg_buf resp; /* the answer; resp.max is the size cap */
	char etag[64];
	char *post; /* owned copy of the request body, wiped on free */
};

int ctlc_global_init(mg_err *e)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return mg_err_set(e, "libcurl init: %s", curl_easy_strerror(rc));
	return 0;
}

void ctlc_global_cleanup(void)
{
	curl_global_cleanup();
}

const char *ctlc_result_name(enum ctlc_result r)
{
	static const char *const names[] = {
	    [CTLC_OK] = "ok",
	    [CTLC_NOT_MODIFIED] = "not_modified",
	    [CTLC_ERR_TRANSPORT] = "transport",
	    [CTLC_ERR_PIN] = "pin_mismatch",
	    [CTLC_ERR_REVOKED] = "revoked",
	    [CTLC_ERR_DISABLED] = "disabled",
	    [CTLC_ERR_CREDENTIALS] = "credentials",
	    [CTLC_ERR_TOKEN_USED] = "token_used",
	    [CTLC_ERR_TOKEN_EXPIRED] = "token_expired",
	    [CTLC_ERR_TOKEN_INVALID] = "token_invalid",
	    [CTLC_ERR_REFUSED] = "refused",
	    [CTLC_ERR_PROTOCOL] = "protocol",
	    [CTLC_ERR_IDENTITY] = "identity_in_use",
	};
	return (unsigned)r < MG_ARRAY_SIZE(names) && names[r] ? names[r] : "?";
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct ctlc_req *r = ud;
	size_t len = sz * n;

	if (len > 5 && !strncasecmp(p, "etag:", 5)) {
		const char *v = p + 5;
		size_t vl = len - 5;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < sizeof(r->etag)) {
			memcpy(r->etag, v, vl);
			r->etag[vl] = '\0';
		}
	}
	return len;
}

#define SETOPT(opt, val)                                                                           \
	do {                                                                                       \
		if (curl_easy_setopt(r->h, opt, val) != CURLE_OK) {                                \
			mg_err_set(e, "libcurl: cannot set " #opt);                                \
			goto fail;                                                                 \
		}                                                                                  \
	} while (0)

static bool claim_identity;

void ctlc_claim_identity(bool on)
{
	claim_identity = on;
}

/* Who we are (hostid.h): on every request of the daemon, so the controller can tell a
 * cloned identity. */
static int add_host_headers(struct ctlc_req *r, mg_err *e)
{
	const struct hostid *h = claim_identity ? hostid_self() : NULL;
	char hdr[128];
	struct curl_slist *nl;

	if (!h)
		return 0; /* no fingerprint: the controller treats us as an unknown host */
	snprintf(hdr, sizeof(hdr), HOSTID_HDR ": %s", h->id);
	nl = curl_slist_append(r->hdrs, hdr);
	if (nl) {
		r->hdrs = nl;
		snprintf(hdr, sizeof(hdr), HOSTID_NAME_HDR ": %s", h->name);
		nl = curl_slist_append(r->hdrs, hdr);
	}
	if (!nl)
		return mg_err_set(e, "out of memory");
	r->hdrs = nl;
	return 0;
}

static struct ctlc_req *req_new(const struct ctlc_target *t, const char *path, const char *bearer,
				const char *post_json, const char *extra_header, size_t max_body,
				long timeout_ms, mg_err *e)
{
	struct ctlc_req *r = calloc(1, sizeof(*r));
	char hdr[512];
	struct curl_slist *nl;
	size_t ul = strlen(t->url);

	if (!r) {
		mg_err_set(e, "out of memory");
		return NULL;
	}
	r->resp.max = max_body;
	r->resp.secret = true;
	/* strip a trailing '/' of the base so "https://h:1/" + "/api" works */
	if (ul && t->url[ul - 1] == '/')
		ul--;
	if (snprintf(r->url, sizeof(r->url), "%.*s%s", (int)ul, t->url, path) >=
	    (int)sizeof(r->url)) {
		mg_err_set(e, "controller URL too long");
		goto fail;
	}
	r->h = curl_easy_init();
	if (!r->h) {
		mg_err_set(e, "libcurl: cannot create a handle");
		goto fail;
	}
	/* a self-signed controller: without a CA file the pin is the whole trust anchor */
	struct httpc_opts ho = {
	    .url = r->url,
	    .timeout_ms = timeout_ms,
	    .body = &r->resp,
	    .ca_file = t->ca_file,
	    .pinned_key = t->pin,
	    .pin_only = true,
	    .use_proxy = true,
	    .errbuf = r->errbuf,
	};
	if (httpc_setup(r->h, &ho, e) < 0)
		goto fail;
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, r);
	nl = curl_slist_append(r->hdrs, "Accept: application/json");
	if (!nl)
		goto oom;
	r->hdrs = nl;
	if (bearer) {
		if (snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", bearer) >=
		    (int)sizeof(hdr)) {
			mg_err_set(e, "credential too long");
			goto fail;
		}
		nl = curl_slist_append(r->hdrs, hdr);
		OPENSSL_cleanse(hdr, sizeof(hdr));
		if (!nl)
			goto oom;
		r->hdrs = nl;
	}
	if (add_host_headers(r, e) < 0)
		goto fail;
	if (extra_header) {
		nl = curl_slist_append(r->hdrs, extra_header);
		if (!nl)
			goto oom;
		r->hdrs = nl;
	}
	if (post_json) {
		r->post = strdup(post_json);
		if (!r->post)
			goto oom;
		nl = curl_slist_append(r->hdrs, "Content-Type: application/json");
		if (!nl)
			goto oom;
		r->hdrs = nl;
		SETOPT(CURLOPT_POSTFIELDS, r->post);
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->post));
	}
	SETOPT(CURLOPT_HTTPHEADER, r->hdrs);
	SETOPT(CURLOPT_PRIVATE, r);
	return r;
oom:
	mg_err_set(e, "out of memory");
fail:
	ctlc_req_free(r);
	return NULL;
}

void ctlc_req_free(struct ctlc_req *r)
{
	struct curl_slist *s;

	if (!r)
		return;
	if (r->h)
		curl_easy_cleanup(r->h);
	for (s = r->hdrs; s; s = s->next)
		OPENSSL_cleanse(s->data, strlen(s->data)); /* the bearer header */
	curl_slist_free_all(r->hdrs);
	if (r->post) {
		OPENSSL_cleanse(r->post, strlen(r->post));
		free(r->post);
	}
	mg_buf_free(&r->resp);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

CURL *ctlc_req_handle(struct ctlc_req *r)
{
	return r->h;
}

const char *ctlc_req_body(const struct ctlc_req *r, size_t *len)
{
	if (len)
		*len = r->resp.len;
	return r->resp.p ? r->resp.p : "";
}

const char *ctlc_req_etag(const struct ctlc_req *r)
{
	return r->etag;
}

struct ctlc_req *ctlc_config_req(const struct ctlc_target *t, const char *secret,
				 const char *if_none_match, int wait_s, mg_err *e)
{
	char path[64], hdr[96];

	snprintf(path, sizeof(path), "/api/v1/device/config?wait=%d", wait_s);
	if (if_none_match && if_none_match[0])
		snprintf(hdr, sizeof(hdr), "If-None-Match: %s", if_none_match);
	return req_new(t, path, secret, NULL, if_none_match && if_none_match[0] ? hdr : NULL,
		       CONFIG_MAX_BYTES, (long)(wait_s + 15) * 1000, e);
}

struct ctlc_req *ctlc_status_req(const struct ctlc_target *t, const char *secret, const char *json,
				 mg_err *e)
{
	return req_new(t, "/api/v1/device/status", secret, json, NULL, CTLC_STATUS_MAX, 10000, e);
}

/* Transport failures: -1 with an actionable message, the PIN case told apart. */
static enum ctlc_result transport_error(struct ctlc_req *r, CURLcode rc, mg_err *e)
{
	const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		mg_err_set(e,
			   "controller %s presented a TLS key that does not match the pin "
			   "from the connection string; refusing to send anything to it (is "
			   "the string for this controller?)",
			   r->url);
		return CTLC_ERR_PIN;
	case CURLE_COULDNT_RESOLVE_HOST:
		mg_err_set(e, "cannot reach controller %s: host name does not resolve (%s)", r->url,
			   why);
		break;
	case CURLE_COULDNT_CONNECT: {
		long oserr = 0;
		curl_easy_getinfo(r->h, CURLINFO_OS_ERRNO, &oserr);
		if (oserr > 0)
			mg_err_set(e, "cannot reach controller %s: %s (%s)", r->url,
				   strerror((int)oserr), why);
		else
			mg_err_set(e, "cannot reach controller %s: %s", r->url, why);
		break;
	}
	case CURLE_OPERATION_TIMEDOUT:
		mg_err_set(e, "cannot reach controller %s: timed out (%s)", r->url, why);
		break;
	case CURLE_WRITE_ERROR:
		if (r->resp.too_big)
			mg_err_set(e, "controller %s: answer larger than %zu bytes refused", r->url,
				   r->resp.max);
		else
			mg_err_set(e, "controller %s: %s", r->url, why);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		mg_err_set(e, "TLS with controller %s failed: %s", r->url, why);
		break;
	default:
		mg_err_set(e, "request to controller %s failed: %s", r->url, why);
		break;
	}
	return CTLC_ERR_TRANSPORT;
}

/* The API's error codes (docs/API.md) that callers act on, and what to tell the user. */
static const struct {
	const char *code;
	enum ctlc_result res;
	const char *explain; /* NULL: the controller's own message says it */
} api_codes[] = {
    {"device_revoked", CTLC_ERR_REVOKED, NULL},
    {"device_disabled", CTLC_ERR_DISABLED,
     "this connector is disabled in the controller; the hub drops its traffic until it is "
     "enabled again"},
    {"invalid_credentials", CTLC_ERR_CREDENTIALS, NULL},
    {"token_used", CTLC_ERR_TOKEN_USED,
     "this connection string was already used to enrol a connector; create a new connector "
     "in the controller to get a fresh one"},
    {"token_expired", CTLC_ERR_TOKEN_EXPIRED,
     "the enrolment token in this connection string has expired; ask the controller for a "
     "new connection string"},
    {"invalid_token", CTLC_ERR_TOKEN_INVALID,
     "the controller does not know this enrolment token (mistyped, or the connector was "
     "deleted)"},
    {"identity_in_use", CTLC_ERR_IDENTITY, NULL}, /* the message names the other host */
};

/* A non-2xx answer: its API code as a result, "<status> <code>: <message>" in e. */
static enum ctlc_result api_error(const struct ctlc_req *r, long status, mg_err *e)
{
	const cJSON *err = NULL;
	const char *c = NULL, *m = NULL;
	cJSON *j = NULL;
	mg_err tmp;

	if (r->resp.p && r->resp.len)
		j = jsonu_parse(r->resp.p, r->resp.len, r->resp.max, &tmp);
	if (j && jsonu_get_object(j, "error", true, &err, &tmp) == 0) {
		jsonu_get_str(err, "code", false, 64, &c, &tmp);
		jsonu_get_str(err, "message", false, 400, &m, &tmp);
	}
	mg_err_set(e, "controller answered %ld%s%s%s%s", status, c ? " " : "", c ? c : "",
		   m ? ": " : "", m ? m : "");
	for (size_t i = 0; c && i < MG_ARRAY_SIZE(api_codes); i++) {
		if (strcmp(c, api_codes[i].code))
			continue;
		if (api_codes[i].explain)
			mg_err_set(e, "%s (%s)", api_codes[i].explain, c);
		cJSON_Delete(j);
		return api_codes[i].res;
	}
	cJSON_Delete(j);
	return CTLC_ERR_REFUSED;
}

enum ctlc_result ctlc_req_finish(struct ctlc_req *r, CURLcode rc, mg_err *e)
{
	long status = 0;

	if (rc != CURLE_OK)
		return transport_error(r, rc, e);
	if (curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status < 100) {
		mg_err_set(e, "controller %s: no HTTP status", r->url);
		return CTLC_ERR_PROTOCOL;
	}
	if (status == 304)
		return CTLC_NOT_MODIFIED;
	if (status / 100 == 2)
		return CTLC_OK;
	return api_error(r, status, e);
}

enum ctlc_result ctlc_fetch_config(const struct ctlc_target *t, const char *secret, int wait_s,
				   long timeout_ms, char **json, size_t *len, mg_err *e)
{
	struct ctlc_req *r = ctlc_config_req(t, secret, NULL, wait_s, e);
	enum ctlc_result res;

	*json = NULL;
	*len = 0;
	if (!r)
		return CTLC_ERR_TRANSPORT;
	if (timeout_ms > 0 && curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK) {
		ctlc_req_free(r);
		mg_err_set(e, "libcurl: cannot set CURLOPT_TIMEOUT_MS");
		return CTLC_ERR_TRANSPORT;
	}
	res = ctlc_req_finish(r, curl_easy_perform(r->h), e);
	if (res == CTLC_OK) {
		*len = r->resp.len;
		*json = mg_buf_take(&r->resp);
		if (!*json || !*len) {
			free(*json);
			*json = NULL;
			ctlc_req_free(r);
			mg_err_set(e, "controller %s: empty config", t->url);
			return CTLC_ERR_PROTOCOL;
		}
	}
	ctlc_req_free(r);
	return res;
}

static char *enroll_body(const char *token, const char *pub64, mg_err *e)
{
	char host[256] = "";
	cJSON *j = cJSON_CreateObject();
	char *txt;

	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
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

enum ctlc_result ctlc_enroll(const struct ctlc_target *t, const char *token,
			     const char *public_key_b64, struct ctlc_enrolment *out, mg_err *e)
{
	struct ctlc_req *r;
	enum ctlc_result res;
	char *body;
	cJSON *ans;

	memset(out, 0, sizeof(*out));
	body = enroll_body(token, public_key_b64, e);
	if (!body)
		return CTLC_ERR_TRANSPORT;
	r = req_new(t, "/api/v1/enroll", NULL, body, NULL, CTLC_ENROLL_MAX, 30000, e);
	OPENSSL_cleanse(body, strlen(body));
	cJSON_free(body);
	if (!r)
		return CTLC_ERR_TRANSPORT;
	res = ctlc_req_finish(r, curl_easy_perform(r->h), e);
	if (res != CTLC_OK) {
		ctlc_req_free(r);
		if (res != CTLC_ERR_PIN && res != CTLC_ERR_TRANSPORT)
			mg_err_prefix(e, "enrolment refused");
		return res;
	}
	ans = jsonu_parse(r->resp.p ? r->resp.p : "", r->resp.len, CTLC_ENROLL_MAX, e);
	ctlc_req_free(r);
	if (!ans ||
	    jsonu_copy_str(ans, "device_id", true, out->device_id, sizeof(out->device_id), e) < 0 ||
	    jsonu_copy_str(ans, "device_secret", true, out->device_secret,
			   sizeof(out->device_secret), e) < 0 ||
	    jsonu_copy_str(ans, "network_id", false, out->network_id, sizeof(out->network_id), e) <
		0) {
		cJSON_Delete(ans);
		OPENSSL_cleanse(out, sizeof(*out));
		mg_err_prefix(e, "enrolment answer");
		return CTLC_ERR_PROTOCOL;
	}
	cJSON_Delete(ans);
	if (strlen(out->device_secret) < 16) {
		OPENSSL_cleanse(out, sizeof(*out));
		mg_err_set(e, "enrolment answer: device secret too short");
		return CTLC_ERR_PROTOCOL;
	}
	return CTLC_OK;
}
