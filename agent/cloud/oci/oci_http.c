/* SPDX-License-Identifier: MIT */
#include "oci_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

void oci_resp_free(struct oci_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

static void copy_trim(char *out, size_t outlen, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= outlen)
		n = 0; /* too long: ignore rather than cut */
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct oci_resp *r = ud;
	size_t len = size * n;
	static const struct {
		const char *name;
		size_t off, cap;
	} want[] = {
	    {"etag:", offsetof(struct oci_resp, etag), CLOUD_ID_LEN},
	    {"opc-request-id:", offsetof(struct oci_resp, request_id), 96},
	    {"opc-next-page:", offsetof(struct oci_resp, next_page), 512},
	    {"date:", offsetof(struct oci_resp, date), 40},
	};

	for (size_t i = 0; i < MG_ARRAY_SIZE(want); i++) {
		size_t nl = strlen(want[i].name);
		if (len > nl && !strncasecmp(p, want[i].name, nl))
			copy_trim((char *)r + want[i].off, want[i].cap, p + nl, len - nl);
	}
	return len;
}

void oci_401_hint(const char *server_date, time_t signed_at, char *out, size_t len)
{
	struct tm tm;
	const char *end = NULL;

	memset(&tm, 0, sizeof(tm));
	if (server_date && server_date[0])
		end = strptime(server_date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end) {
		snprintf(out, len,
			 "OCI refused the request's signature: check this host's clock (a request "
			 "dated more than 5 minutes off is refused) and that nothing on the way "
			 "changes signed headers");
		return;
	}
	long skew = (long)(timegm(&tm) - signed_at);
	if (skew > 240 || skew < -240)
		snprintf(out, len,
			 "this host's clock is %ld s %s OCI's and OCI refuses a request dated more "
			 "than 5 minutes off: set the time (NTP, e.g. chrony)",
			 skew < 0 ? -skew : skew, skew > 0 ? "behind" : "ahead of");
	else
		snprintf(out, len,
			 "the clock agrees with OCI's, so the signature itself was refused: a "
			 "signed header changed on the way (a proxy?) or the request was signed "
			 "with a key that is not its keyId's");
}

int oci_connect_to_of(const char *url, char *out, size_t outlen, mg_err *e)
{
	const char *h;
	size_t n;

	out[0] = '\0';
	if (!url || !url[0])
		return 0;
	if (!strncmp(url, "https://", 8))
		h = url + 8;
	else
		return mg_err_set(e, "API URL %s must be https://", url);
	n = strcspn(h, "/?#");
	if (!n || n + 5 >= outlen)
		return mg_err_set(e, "API URL %s: bad host", url);
	if (memchr(h, '@', n))
		return mg_err_set(e, "API URL %s: no user info allowed", url);
	memcpy(out, h, n);
	out[n] = '\0';
	/* a port is the part after the last ':' outside brackets */
	const char *rb = strrchr(out, ']');
	const char *colon = strrchr(out, ':');
	if (!colon || (rb && colon < rb))
		strcat(out, ":443");
	return 0;
}

int oci_http_do(const struct oci_http *c, const char *method, const char *url,
		const char *const *hdrs, size_t n_hdrs, const char *body, size_t blen,
		struct oci_resp *r, mg_err *e)
{
	struct mg_buf b = {.max = OCI_MAX_BODY};
	char errbuf[CURL_ERROR_SIZE] = "";
	struct httpc_opts ho = {
	    .url = url,
	    .protocols = "http,https",
	    .connect_timeout_ms = 5000,
	    .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 20000,
	    .body = &b,
	    .ca_file = c->ca_file,
	    .abort = c->abort.aborted ? &c->abort : NULL,
	    .errbuf = errbuf,
	};
	struct curl_slist *hl = NULL, *ct = NULL;
	char cto[CLOUD_URL_LEN + 8];
	CURLcode rc = CURLE_OK;
	int ret = -1;
	CURL *h;

	memset(r, 0, sizeof(*r));
	h = curl_easy_init();
	if (!h)
		return mg_err_set(e, "libcurl: cannot create a handle");
	for (size_t i = 0; i < n_hdrs; i++) {
		struct curl_slist *t = curl_slist_append(hl, hdrs[i]);
		if (!t) {
			mg_err_set(e, "out of memory");
			goto out;
		}
		hl = t;
	}
	/* never let libcurl add headers we did not sign */
	static const char *const off[] = {"Expect:", "Accept:"};
	for (size_t i = 0; i < MG_ARRAY_SIZE(off); i++) {
		struct curl_slist *t = curl_slist_append(hl, off[i]);
		if (!t) {
			mg_err_set(e, "out of memory");
			goto out;
		}
		hl = t;
	}
	if (httpc_setup(h, &ho, e) < 0)
		goto out;
#define SET(o, v) (rc == CURLE_OK ? (rc = curl_easy_setopt(h, o, v)) : rc)
	SET(CURLOPT_HTTPHEADER, hl);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, r);
	if (c->connect_to[0] && !strncmp(url, "https://", 8)) {
		snprintf(cto, sizeof(cto), "::%s", c->connect_to);
		ct = curl_slist_append(NULL, cto);
		if (!ct) {
			mg_err_set(e, "out of memory");
			goto out;
		}
		SET(CURLOPT_CONNECT_TO, ct);
	}
	if (!strcmp(method, "GET")) {
		SET(CURLOPT_HTTPGET, 1L);
	} else {
		SET(CURLOPT_CUSTOMREQUEST, method);
		SET(CURLOPT_POSTFIELDS, body ? body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	}
#undef SET
	if (rc != CURLE_OK) {
		mg_err_set(e, "libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		r->aborted = rc == CURLE_ABORTED_BY_CALLBACK;
		r->too_big = b.too_big;
		if (b.too_big)
			mg_err_set(e, "%s %s: answer over %u bytes", method, url, OCI_MAX_BODY);
		else
			mg_err_set(e, "%s %s: %s", method, url,
				   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	r->len = b.len;
	r->body = mg_buf_take(&b);
	if (!r->body) {
		mg_err_set(e, "out of memory");
		goto out;
	}
	ret = 0;
out:
	mg_buf_free(&b);
	curl_slist_free_all(hl);
	curl_slist_free_all(ct);
	curl_easy_cleanup(h);
	return ret;
}
