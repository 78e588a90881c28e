/* SPDX-License-Identifier: MIT */
#include "azure_imds.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "azure_http.h"
#include "log.h"

#define IMDS_MAX_BODY (256u << 10)

int az_imds_init(struct az_imds *m, const char *base, const char *client_id,
		 const struct cloud_hooks *hooks, mg_err *e)
{
	memset(m, 0, sizeof(*m));
	if (cloud_base_url(m->base, sizeof(m->base), base, AZ_IMDS_DEFAULT, "metadata URL", e) < 0)
		return -1;
	if (client_id && client_id[0]) {
		if (strlen(client_id) >= sizeof(m->client_id) ||
		    strspn(client_id, "0123456789abcdefABCDEF-") != strlen(client_id))
			return mg_err_set(e, "Azure client id \"%s\" is not a GUID", client_id);
		snprintf(m->client_id, sizeof(m->client_id), "%s", client_id);
	}
	m->timeout_ms = 3000;
	m->max_attempts = 5; /* waits 1 + 2 + 4 + 8 s at most */
	m->backoff_ms = 1000;
	m->hooks = hooks;
	return 0;
}

static bool retryable(long status)
{
	return status == 404 || status == 410 || status == 429 || status >= 500;
}

/* GET base + path with retries; 0 and a 200 answer in r->body, or -1. */
static int imds_get(struct az_imds *m, const char *path, const char *what, bool secret,
		    struct az_resp *r, mg_err *e)
{
	static const char *const hdrs[] = {"Metadata: true", NULL};
	char url[CLOUD_URL_LEN + 512];
	long delay = m->backoff_ms;

	if (snprintf(url, sizeof(url), "%s%s", m->base, path) >= (int)sizeof(url))
		return mg_err_set(e, "%s: URL too long", what);
	for (int attempt = 1;; attempt++) {
		struct az_req q = {.method = "GET",
				   .url = url,
				   .headers = hdrs,
				   .protocols = "http,https",
				   .timeout_ms = m->timeout_ms,
				   .max_body = IMDS_MAX_BODY,
				   .abort = &m->abort,
				   .secret = secret};
		char why[200] = "";
		int rc;

		if (cloud_aborted(m->hooks))
			return mg_err_set(e, "%s: aborted", what);
		rc = az_http(&q, r, e);
		if (rc == 0 && r->status == 200)
			return 0;
		if (r->aborted)
			return mg_err_set(e, "%s: aborted", what);
		if (rc == 0) {
			az_parse_imds_error(r->body.p, r->body.len, why, sizeof(why));
			mg_err_set(e, "%s: HTTP %ld from the instance metadata service%s%s", what,
				   r->status, why[0] ? ": " : "", why);
			if (!retryable(r->status))
				return -1;
		} else {
			mg_err_prefix(e, "%s: cannot reach the instance metadata service at %s",
				      what, m->base);
			if (r->too_big)
				return -1;
		}
		if (attempt >= m->max_attempts)
			return -1;
		if (!cloud_sleep_ms(m->hooks, delay))
			return mg_err_set(e, "%s: aborted", what);
		delay *= 2;
	}
}

static bool hooks_aborted(void *ud)
{
	return cloud_aborted(ud);
}

int az_imds_probe(const char *base, long timeout_ms)
{
	struct az_imds m;
	struct az_resp r = {0};
	mg_err e = {""};
	int ok;

	if (az_imds_init(&m, base, NULL, NULL, &e))
		return 0;
	m.timeout_ms = timeout_ms;
	m.max_attempts = 1;
	ok = imds_get(&m, "/metadata/instance?api-version=" AZ_API_IMDS, "probe", false, &r, &e) ==
	     0;
	mg_buf_free(&r.body);
	return ok;
}

int az_imds_instance(struct az_imds *m, struct az_imds_doc *d, mg_err *e)
{
	struct az_resp r = {0};
	int rc;

	m->abort = (struct httpc_abort){hooks_aborted, (void *)m->hooks};
	rc = imds_get(m, "/metadata/instance?api-version=" AZ_API_IMDS, "instance metadata", false,
		      &r, e);
	if (!rc)
		rc = az_parse_imds(r.body.p, r.body.len, d, e);
	mg_buf_free(&r.body);
	return rc;
}

int az_imds_token(struct az_imds *m, struct az_token *t, mg_err *e)
{
	struct az_resp r = {0};
	char path[256];
	int rc;

	m->abort = (struct httpc_abort){hooks_aborted, (void *)m->hooks};
	snprintf(path, sizeof(path),
		 "/metadata/identity/oauth2/token?api-version=" AZ_API_TOKEN
		 "&resource=https%%3A%%2F%%2Fmanagement.azure.com%%2F%s%s",
		 m->client_id[0] ? "&client_id=" : "", m->client_id);
	rc = imds_get(m, path, "managed identity token", true, &r, e);
	if (rc) {
		if (strstr(e->msg, "Identity not found") || strstr(e->msg, "Multiple user"))
			mg_err_prefix(e, "%s",
				      m->client_id[0]
					  ? "is --cloud-azure-client-id the client id of a "
					    "user-assigned identity of this VM?"
					  : "give the VM a system-assigned identity, or name a "
					    "user-assigned one with --cloud-azure-client-id");
	} else {
		rc = az_parse_token(r.body.p, r.body.len, t, e);
	}
	mg_buf_free(&r.body);
	return rc;
}
