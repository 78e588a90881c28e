/* SPDX-License-Identifier: MIT */
/*
 * OCI instance metadata (IMDS v2: `Authorization: Bearer Oracle`, no forwarding headers) and
 * instance-principal federation: the leaf certificate, its key and the intermediate come from
 * IMDS; a session RSA key is made here; POST /v1/x509 on the auth host, signed with the leaf
 * key as `<tenancy>/fed-x509/<SHA-1 fingerprint>`, answers a security token (a JWT whose
 * `exp` says when to federate again). API calls are then signed with the session key as
 * `ST$<token>`.
 */
#ifndef MG_OCI_IMDS_H
#define MG_OCI_IMDS_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <time.h>

#include "cloud.h"
#include "oci_http.h"

#define OCI_IMDS_DEFAULT "http://169.254.169.254"
#define OCI_TOKEN_MAX    16384

struct oci_instance {
	char id[CLOUD_ID_LEN];
	char compartment[CLOUD_ID_LEN];
	char tenancy[CLOUD_ID_LEN];
	char region[64];       /* canonical: us-phoenix-1 */
	char realm_domain[64]; /* oraclecloud.com */
};

struct oci_vnic_md {
	char vnic_id[CLOUD_ID_LEN];
	char private_ip[64];
	char mac[32];
	char subnet_cidr[64];
};

/* ---- pure parsers ---- */
int oci_parse_instance(const char *buf, size_t len, struct oci_instance *out, mg_err *e);
/* The primary (first) VNIC of /opc/v2/vnics/. */
int oci_parse_vnics(const char *buf, size_t len, struct oci_vnic_md *out, mg_err *e);
/* {"token": JWT}: copy the token and read `exp` from its payload. */
int oci_parse_federation(const char *buf, size_t len, char *token, size_t toklen, time_t *exp,
			 mg_err *e);
/* `exp` of a JWT (its payload is not verified: the service checks it). */
int oci_jwt_exp(const char *jwt, time_t *exp, mg_err *e);

struct oci_imds {
	char base[CLOUD_URL_LEN];
	struct oci_http http;
};

int oci_imds_init(struct oci_imds *m, const char *base, mg_err *e);
/* GET base/opc/v2/<path>; *out heap (NUL-terminated). Non-200 is an error. */
int oci_imds_get(struct oci_imds *m, const char *path, char **out, size_t *len, mg_err *e);

struct oci_auth {
	EVP_PKEY *session; /* signs API calls */
	char *token;       /* heap, secret */
	time_t exp;
	char leaf_fp[128]; /* fingerprint of the leaf the token came from */
	char tenancy[CLOUD_ID_LEN];
	time_t cert_checked;
	char auth_url[CLOUD_URL_LEN]; /* https://auth.<region>.<realm> */
	struct oci_http http;
	time_t (*now)(void);
};

void oci_auth_clear(struct oci_auth *a);
/*
 * Federate when there is no token, it expires within 5 minutes, the IMDS leaf certificate
 * changed (checked at most once a minute), or `force`. Keeps a still valid token when a
 * non-forced refresh fails.
 */
int oci_auth_refresh(struct oci_auth *a, struct oci_imds *m, bool force, mg_err *e);

#endif
