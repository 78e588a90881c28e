/* SPDX-License-Identifier: MIT */
/*
 * OCI request signatures: the draft-cavage-http-signatures-08 profile Oracle documents
 * ("Request Signatures"), version 1, rsa-sha256. GET/DELETE sign `date (request-target)
 * host`; PUT/POST also `content-length content-type x-content-sha256` (x-content-sha256
 * even for an empty body).
 */
#ifndef MG_OCI_SIGN_H
#define MG_OCI_SIGN_H

#include <openssl/evp.h>
#include <stddef.h>

#include "err.h"

struct oci_hdr {
	const char *name; /* lower case, as signed */
	const char *value;
};

/* "(request-target): <method lower> <target>\n<name>: <value>..." of `h` in order (the
 * name "(request-target)" takes method and target). Heap string or NULL with `e` set. */
char *oci_signing_string(const char *method, const char *target, const struct oci_hdr *h, size_t n,
			 mg_err *e);

/* base64(RSA-SHA256(key, s)) into out. 0 or -1. */
int oci_sign_b64(EVP_PKEY *key, const char *s, char *out, size_t outlen, mg_err *e);

/* The whole Authorization header value: Signature version="1",headers="...",keyId="...",
 * algorithm="rsa-sha256",signature="...". Heap string or NULL. */
char *oci_authorization(EVP_PKEY *key, const char *key_id, const char *method, const char *target,
			const struct oci_hdr *h, size_t n, mg_err *e);

/* base64(SHA-256(body)) (44 chars + NUL). */
int oci_body_sha256_b64(const void *body, size_t len, char out[48], mg_err *e);

/* RFC 7231 date of `t` ("Thu, 05 Jan 2014 21:31:40 GMT"). */
void oci_http_date(time_t t, char out[40]);

/* A private key from PEM text (PKCS#1 or PKCS#8). NULL with `e` set. */
EVP_PKEY *oci_key_from_pem(const char *pem, size_t len, mg_err *e);

#endif
