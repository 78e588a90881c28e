/* SPDX-License-Identifier: MIT */
#include "gcp_http.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

void gcp_http_resp_free(struct gcp_http_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	struct gcp_http_resp *out = ud;
	size_t len = size * n;
	static const char h[] = "metadata-flavor:";

	if (len >= sizeof(h) - 1 && !strncasecmp(p, h, sizeof(h) - 1)) {
		const char *v = p + sizeof(h) - 1;
		size_t vl = len - (sizeof(h) - 1);
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		out->flavor = vl == 6 && !strncmp(v, "Google", 6);
	}
	return len;
}

int gcp_http_do(void *ud, const struct gcp_http_req *r, struct gcp_http_resp *out, mg_err *e)
{
	struct mg_buf b = {.max = r->max ? r->max : (8u << 20)};
	char errbuf[CURL_ERROR_SIZE] = "", authh[2100];
	struct curl_slist *hl = NULL, *t;
	struct httpc_opts ho = {
	    .url = r->url,
	    .protocols = r->metadata ? "http,https" : "https",
	    .connect_timeout_ms = r->metadata ? r->timeout_ms : 5000,
	    .timeout_ms = r->timeout_ms,
	    .body = &b,
	    .ca_file = r->metadata ? NULL : r->ca_file,
	    .abort = r->abort,
	    .errbuf = errbuf,
	};
	CURLcode rc = CURLE_OK;
	CURL *h;
	int ret = -1;

	(void)ud;
	memset(out, 0, sizeof(*out));
	h = curl_easy_init();
	if (!h)
		return mg_err_set(e, "libcurl: cannot create a handle");
	if (r->metadata && !(hl = curl_slist_append(hl, "Metadata-Flavor: Google")))
		goto oom;
	if (r->auth) {
		snprintf(authh, sizeof(authh), "Authorization: Bearer %s", r->auth);
		t = curl_slist_append(hl, authh);
		OPENSSL_cleanse(authh, sizeof(authh));
		if (!t)
			goto oom;
		hl = t;
	}
	if (r->body) {
		if (!(t = curl_slist_append(hl, "Content-Type: application/json")))
			goto oom;
		hl = t;
	}
	if (!(t = curl_slist_append(hl, "Expect:")))
		goto oom;
	hl = t;
	if (httpc_setup(h, &ho, e) < 0)
		goto out;
#define SET(o, v) (rc == CURLE_OK ? (rc = curl_easy_setopt(h, o, v)) : rc)
	SET(CURLOPT_HTTPHEADER, hl);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, out);
	if (!strcmp(r->method, "POST")) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, r->body ? r->body : "");
		SET(CURLOPT_POSTFIELDSIZE, (long)(r->body ? strlen(r->body) : 0));
	} else if (strcmp(r->method, "GET")) {
		SET(CURLOPT_CUSTOMREQUEST, r->method);
	}
#undef SET
	if (rc != CURLE_OK) {
		mg_err_set(e, "libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (b.too_big) {
		mg_err_set(e, "answer from %s is over %zu bytes", r->url, b.max);
		goto out;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		out->aborted = true;
		mg_err_set(e, "request to %s aborted", r->url);
		goto out;
	}
	if (rc != CURLE_OK) {
		mg_err_set(e, "cannot reach %s: %s", r->url,
			   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	out->len = b.len;
	out->body = mg_buf_take(&b);
	if (!out->body) {
		out->status = 0;
		goto oom;
	}
	ret = 0;
	goto out;
oom:
	mg_err_set(e, "out of memory");
out:
	if (hl)
		for (t = hl; t; t = t->next)
			OPENSSL_cleanse(t->data, strlen(t->data));
	curl_slist_free_all(hl);
	mg_buf_free(&b);
	curl_easy_cleanup(h);
	return ret;
}
