/* SPDX-License-Identifier: MIT */
#include "oci_sign.h"

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "buf.h"

char *oci_signing_string(const char *method, const char *target, const struct oci_hdr *h, size_t n,
			 mg_err *e)
{
	struct mg_buf b = {.max = 64 * 1024};

	for (size_t i = 0; i < n; i++) {
		if (i)
			mg_buf_addc(&b, '\n');
		if (!strcmp(h[i].name, "(request-target)")) {
			mg_buf_add(&b, "(request-target): ");
			for (const char *m = method; *m; m++)
				mg_buf_addc(&b, (char)tolower((unsigned char)*m));
			mg_buf_addf(&b, " %s", target);
		} else {
			mg_buf_addf(&b, "%s: %s", h[i].name, h[i].value ? h[i].value : "");
		}
	}
	char *s = mg_buf_take(&b);
	if (!s)
		mg_err_set(e, "OCI signing string too long or out of memory");
	return s;
}

int oci_sign_b64(EVP_PKEY *key, const char *s, char *out, size_t outlen, mg_err *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t slen = sizeof(sig);
	int rc = -1;

	if (!ctx)
		return mg_err_set(e, "out of memory");
	if (EVP_PKEY_get_size(key) > (int)sizeof(sig)) {
		mg_err_set(e, "OCI signing key too large");
		goto out;
	}
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)s, strlen(s)) != 1) {
		mg_err_set(e, "OpenSSL: RSA-SHA256 signing failed");
		goto out;
	}
	if (b64_encode(sig, slen, out, outlen) < 0) {
		mg_err_set(e, "signature does not fit");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

char *oci_authorization(EVP_PKEY *key, const char *key_id, const char *method, const char *target,
			const struct oci_hdr *h, size_t n, mg_err *e)
{
	char sig[1400];
	struct mg_buf b = {.max = 64 * 1024};
	char *ss = oci_signing_string(method, target, h, n, e);

	if (!ss)
		return NULL;
	if (oci_sign_b64(key, ss, sig, sizeof(sig), e)) {
		free(ss);
		return NULL;
	}
	free(ss);
	mg_buf_add(&b, "Signature version=\"1\",headers=\"");
	for (size_t i = 0; i < n; i++)
		mg_buf_addf(&b, "%s%s", i ? " " : "", h[i].name);
	mg_buf_addf(&b, "\",keyId=\"%s\",algorithm=\"rsa-sha256\",signature=\"%s\"", key_id, sig);
	char *a = mg_buf_take(&b);
	if (!a)
		mg_err_set(e, "OCI Authorization header too long or out of memory");
	return a;
}

int oci_body_sha256_b64(const void *body, size_t len, char out[48], mg_err *e)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	if (!SHA256(body ? body : "", len, d))
		return mg_err_set(e, "OpenSSL: SHA-256 failed");
	if (b64_encode(d, sizeof(d), out, 48) < 0)
		return mg_err_set(e, "base64 failed");
	return 0;
}

void oci_http_date(time_t t, char out[40])
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday % 7], tm.tm_mday,
		 mo[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

EVP_PKEY *oci_key_from_pem(const char *pem, size_t len, mg_err *e)
{
	BIO *bio;
	EVP_PKEY *k;

	if (len > 64 * 1024)
		return mg_err_set(e, "PEM key too large"), NULL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return mg_err_set(e, "out of memory"), NULL;
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!k)
		return mg_err_set(e, "not a PEM private key"), NULL;
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		return mg_err_set(e, "the key is not RSA"), NULL;
	}
	return k;
}
