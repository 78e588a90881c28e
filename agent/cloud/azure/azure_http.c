/* SPDX-License-Identifier: MIT */
#include "azure_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copy the value of header `name` from one header line; 1 when it was that header. */
static int header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	if (n <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return 0;
	line += nl + 1;
	n -= nl + 1;
	while (n && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	if (n >= outlen) { /* too long: treat as absent rather than follow a cut URL */
		out[0] = '\0';
		return 1;
	}
	memcpy(out, line, n);
	out[n] = '\0';
	return 1;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
	struct az_resp *r = ud;
	size_t n = size * nitems;
	char ra[32];

	if (!strncmp(p, "HTTP/", 5)) { /* a new answer (after 100 Continue): start over */
		r->async_op[0] = r->location[0] = '\0';
		r->retry_after_s = -1;
		return n;
	}
	if (header_value(p, n, "Azure-AsyncOperation", r->async_op, sizeof(r->async_op)) ||
	    header_value(p, n, "Location", r->location, sizeof(r->location)))
		return n;
	if (header_value(p, n, "Retry-After", ra, sizeof(ra))) {
		char *end;
		long v = strtol(ra, &end, 10);
		if (ra[0] && isdigit((unsigned char)ra[0]) && !*end && v >= 0)
			r->retry_after_s = v > 3600 ? 3600 : v;
	}
	return n;
}

int az_http(const struct az_req *q, struct az_resp *r, mg_err *e)
{
	struct curl_slist *hl = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct httpc_opts ho = {
	    .url = q->url,
	    .protocols = q->protocols,
	    .connect_timeout_ms = 5000,
	    .timeout_ms = q->timeout_ms,
	    .body = &r->body,
	    .ca_file = q->ca_file,
	    .abort = q->abort && q->abort->aborted ? q->abort : NULL,
	    .errbuf = errbuf,
	};
	CURLcode rc = CURLE_OK;
	CURL *h;
	int ret = -1;

	r->status = 0;
	r->async_op[0] = r->location[0] = '\0';
	r->retry_after_s = -1;
	r->aborted = r->too_big = false;
	mg_buf_free(&r->body);
	r->body.max = q->max_body;
	r->body.secret = q->secret;
	h = curl_easy_init();
	if (!h)
		return mg_err_set(e, "libcurl: cannot create a handle");
	for (const char *const *hp = q->headers; hp && *hp; hp++) {
		struct curl_slist *n = curl_slist_append(hl, *hp);
		if (!n) {
			mg_err_set(e, "out of memory");
			goto out;
		}
		hl = n;
	}
	if (httpc_setup(h, &ho, e) < 0)
		goto out;
#define SET(o, v) (rc == CURLE_OK ? (rc = curl_easy_setopt(h, o, v)) : rc)
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, r);
	if (hl)
		SET(CURLOPT_HTTPHEADER, hl);
	if (strcmp(q->method, "GET"))
		SET(CURLOPT_CUSTOMREQUEST, q->method);
	if (q->body) {
		SET(CURLOPT_POSTFIELDS, q->body);
		SET(CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
	}
#undef SET
	if (rc != CURLE_OK) {
		mg_err_set(e, "libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (r->body.too_big) {
		r->too_big = true;
		mg_err_set(e, "answer over %zu bytes", q->max_body);
		goto out;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		r->aborted = true;
		mg_err_set(e, "aborted");
		goto out;
	}
	if (rc != CURLE_OK) {
		mg_err_set(e, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	ret = 0;
out:
	for (struct curl_slist *s = hl; s; s = s->next) /* bearer tokens */
		OPENSSL_cleanse(s->data, strlen(s->data));
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return ret;
}
