/* SPDX-License-Identifier: MIT */
#include "ctlc.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpc.h"
#include "jsonu.h"
#include "version.h"

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

#define SETOPT(opt, val)                                                                   \
	do {                                                                               \
		if (curl_easy_setopt(r->h, opt, val) != CURLE_OK) {                        \
			mg_err_set(e, "libcurl: cannot set " #opt);                        \
			goto fail;                                                         \
		}                                                                          \
	} while (0)

int ctlc_req_init(struct ctlc_req *r, const struct ctlc_target *t, const char *path,
		  const char *bearer, const char *post_json, const char *extra_header,
		  size_t max_body, long timeout_ms, mg_err *e)
{
	char hdr[512];
	struct curl_slist *nl;

	memset(r, 0, sizeof(*r));
	r->resp.max = max_body;
	r->resp.secret = true;
	if (snprintf(r->url, sizeof(r->url), "%s%s", t->url, path) >= (int)sizeof(r->url))
		return mg_err_set(e, "controller URL too long");
	/* strip a trailing '/' of the base so "https://h:1/" + "/api" works */
	{
		size_t ul = strlen(t->url);
		if (ul && t->url[ul - 1] == '/')
			snprintf(r->url, sizeof(r->url), "%.*s%s", (int)(ul - 1), t->url, path);
	}
	r->h = curl_easy_init();
	if (!r->h)
		return mg_err_set(e, "libcurl: cannot create a handle");
	/* a self-signed controller: without a CA file the pin is the whole trust anchor */
	struct httpc_opts ho = {
		.url = r->url, .timeout_ms = timeout_ms, .body = &r->resp, .ca_file = t->ca_file,
		.pinned_key = t->pin, .pin_only = true, .use_proxy = true, .errbuf = r->errbuf,
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
	return 0;
oom:
	mg_err_set(e, "out of memory");
fail:
	ctlc_req_free(r);
	return -1;
}

void ctlc_req_free(struct ctlc_req *r)
{
	struct curl_slist *s;

	if (r->h)
		curl_easy_cleanup(r->h);
	for (s = r->hdrs; s; s = s->next)
		OPENSSL_cleanse(s->data, strlen(s->data)); /* the bearer header */
	curl_slist_free_all(r->hdrs);
	if (r->post) {
		OPENSSL_cleanse(r->post, strlen(r->post));
		free(r->post);
	}
	mg_buf_free(&r->resp); /* wipes */
	memset(r, 0, sizeof(*r));
}

long ctlc_req_status(struct ctlc_req *r, CURLcode rc, mg_err *e)
{
	long status = 0;
	const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return mg_err_set(e, "controller %s presented a TLS key that does not match the "
				     "pin from the connection string; refusing to send anything "
				     "to it (is the string for this controller?)",
				  r->url);
	case CURLE_COULDNT_RESOLVE_HOST:
		return mg_err_set(e, "cannot reach controller %s: host name does not resolve (%s)",
				  r->url, why);
	case CURLE_COULDNT_CONNECT: {
		long oserr = 0;
		curl_easy_getinfo(r->h, CURLINFO_OS_ERRNO, &oserr);
		if (oserr > 0)
			return mg_err_set(e, "cannot reach controller %s: %s (%s)", r->url,
					  strerror((int)oserr), why);
		return mg_err_set(e, "cannot reach controller %s: %s", r->url, why);
	}
	case CURLE_OPERATION_TIMEDOUT:
		return mg_err_set(e, "cannot reach controller %s: timed out (%s)", r->url, why);
	case CURLE_WRITE_ERROR:
		if (r->resp.too_big)
			return mg_err_set(e, "controller %s: answer larger than %zu bytes refused",
					  r->url, r->resp.max);
		return mg_err_set(e, "controller %s: %s", r->url, why);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return mg_err_set(e, "TLS with controller %s failed: %s", r->url, why);
	default:
		return mg_err_set(e, "request to controller %s failed: %s", r->url, why);
	}
	if (curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status < 100)
		return mg_err_set(e, "controller %s: no HTTP status", r->url);
	return status;
}

size_t ctlc_api_error(const struct ctlc_req *r, long status, char *code, size_t codelen,
		      mg_err *e)
{
	const cJSON *err = NULL;
	const char *c = NULL, *m = NULL;
	cJSON *j = NULL;
	mg_err tmp;

	code[0] = '\0';
	if (r->body && r->len)
		j = jsonu_parse(r->body, r->len, r->resp.max, &tmp);
	if (j && jsonu_get_object(j, "error", true, &err, &tmp) == 0) {
		jsonu_get_str(err, "code", false, 64, &c, &tmp);
		jsonu_get_str(err, "message", false, 256, &m, &tmp);
	}
	if (c)
		snprintf(code, codelen, "%s", c);
	mg_err_set(e, "controller answered %ld%s%s%s%s", status, c ? " " : "", c ? c : "",
		   m ? ": " : "", m ? m : "");
	cJSON_Delete(j);
	return strlen(code);
}

long ctlc_perform(struct ctlc_req *r, mg_err *e)
{
	return ctlc_req_status(r, curl_easy_perform(r->h), e);
}
