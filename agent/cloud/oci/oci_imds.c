/* SPDX-License-Identifier: MIT */
#include "oci_imds.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "jsonu.h"
#include "log.h"
#include "oci_sign.h"

#define IMDS_MAX (256u * 1024)

/* ---------------------------------------------------------------- parsers */

int oci_parse_instance(const char *buf, size_t len, struct oci_instance *out, mg_err *e)
{
	cJSON *j = jsonu_parse(buf, len, IMDS_MAX, e);
	const cJSON *ri = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!j)
		return mg_err_prefix(e, "IMDS instance");
	if (jsonu_copy_str(j, "id", true, out->id, sizeof(out->id), e) ||
	    jsonu_copy_str(j, "compartmentId", true, out->compartment, sizeof(out->compartment),
			   e) ||
	    jsonu_copy_str(j, "tenantId", false, out->tenancy, sizeof(out->tenancy), e) ||
	    jsonu_copy_str(j, "canonicalRegionName", true, out->region, sizeof(out->region), e) ||
	    jsonu_get_object(j, "regionInfo", false, &ri, e))
		goto out;
	if (ri && jsonu_copy_str(ri, "realmDomainComponent", false, out->realm_domain,
				 sizeof(out->realm_domain), e))
		goto out;
	if (!out->realm_domain[0])
		snprintf(out->realm_domain, sizeof(out->realm_domain), "oraclecloud.com");
	/* both end up in host names: letters, digits, '-' and '.' only */
	for (const char *s = out->region; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", *s)) {
			mg_err_set(e, "canonicalRegionName \"%s\" is not a region name",
				   out->region);
			goto out;
		}
	for (const char *s = out->realm_domain; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-.", *s)) {
			mg_err_set(e, "realmDomainComponent is not a domain");
			goto out;
		}
	if (!out->region[0] || !out->id[0]) {
		mg_err_set(e, "empty id or region");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc ? mg_err_prefix(e, "IMDS instance") : 0;
}

int oci_parse_vnics(const char *buf, size_t len, struct oci_vnic_md *out, mg_err *e)
{
	cJSON *j;
	const cJSON *v;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!buf || len > IMDS_MAX)
		return mg_err_set(e, "IMDS vnics: answer too large");
	/* jsonu_parse wants an object at the root: wrap the array */
	struct mg_buf w = {.max = IMDS_MAX + 16};
	mg_buf_add(&w, "{\"v\":");
	mg_buf_addn(&w, buf, len);
	mg_buf_add(&w, "}");
	char *s = mg_buf_take(&w);
	if (!s)
		return mg_err_set(e, "out of memory");
	j = jsonu_parse(s, strlen(s), IMDS_MAX + 16, e);
	free(s);
	if (!j)
		return mg_err_prefix(e, "IMDS vnics");
	v = cJSON_GetObjectItemCaseSensitive(j, "v");
	if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v) ||
	    !cJSON_IsObject(cJSON_GetArrayItem(v, 0))) {
		mg_err_set(e, "not a non-empty array of objects");
		goto out;
	}
	v = cJSON_GetArrayItem(v, 0);
	if (jsonu_copy_str(v, "vnicId", true, out->vnic_id, sizeof(out->vnic_id), e) ||
	    jsonu_copy_str(v, "privateIp", true, out->private_ip, sizeof(out->private_ip), e) ||
	    jsonu_copy_str(v, "macAddr", false, out->mac, sizeof(out->mac), e) ||
	    jsonu_copy_str(v, "subnetCidrBlock", false, out->subnet_cidr, sizeof(out->subnet_cidr),
			   e))
		goto out;
	uint8_t fam, a[16];
	if (addr_parse(out->private_ip, &fam, a)) {
		mg_err_set(e, "privateIp \"%s\" is not an address", out->private_ip);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc ? mg_err_prefix(e, "IMDS vnics") : 0;
}

int oci_jwt_exp(const char *jwt, time_t *exp, mg_err *e)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	char enc[8192];
	uint8_t dec[6144];
	long n;
	int64_t x = 0;
	int rc = -1;

	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return mg_err_set(e, "the token is not a JWT");
	if ((size_t)(d2 - d1 - 1) >= sizeof(enc) || d2 == d1 + 1)
		return mg_err_set(e, "JWT payload too long or empty");
	memcpy(enc, d1 + 1, (size_t)(d2 - d1 - 1));
	enc[d2 - d1 - 1] = '\0';
	n = b64url_decode(enc, dec, sizeof(dec));
	if (n <= 0)
		return mg_err_set(e, "JWT payload is not base64url");
	cJSON *j = jsonu_parse((const char *)dec, (size_t)n, sizeof(dec), e);
	if (!j)
		return mg_err_prefix(e, "JWT payload");
	if (jsonu_get_int(j, "exp", true, 1, INT64_C(253402300799), &x, e) == 0) {
		*exp = (time_t)x;
		rc = 0;
	}
	cJSON_Delete(j);
	return rc ? mg_err_prefix(e, "JWT payload") : 0;
}

int oci_parse_federation(const char *buf, size_t len, char *token, size_t toklen, time_t *exp,
			 mg_err *e)
{
	cJSON *j = jsonu_parse(buf, len, OCI_TOKEN_MAX + 1024, e);
	int rc = -1;

	if (!j)
		return mg_err_prefix(e, "federation answer");
	if (jsonu_copy_str(j, "token", true, token, toklen, e) == 0) {
		for (const char *s = token; *s; s++)
			if (!strchr(
				"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.",
				*s)) {
				mg_err_set(e, "the token holds characters no JWT has");
				goto out;
			}
		rc = oci_jwt_exp(token, exp, e);
	}
out:
	cJSON_Delete(j);
	if (rc)
		OPENSSL_cleanse(token, toklen);
	return rc ? mg_err_prefix(e, "federation answer") : 0;
}

/* ---------------------------------------------------------------- IMDS */

int oci_imds_init(struct oci_imds *m, const char *base, mg_err *e)
{
	memset(m, 0, sizeof(*m));
	if (cloud_base_url(m->base, sizeof(m->base), base, OCI_IMDS_DEFAULT, "metadata URL", e) < 0)
		return -1;
	m->http.timeout_ms = 3000;
	return 0;
}

int oci_imds_get(struct oci_imds *m, const char *path, char **out, size_t *len, mg_err *e)
{
	static const char *const hdrs[] = {"Authorization: Bearer Oracle"};
	char url[CLOUD_URL_LEN * 2];
	struct oci_resp r;

	*out = NULL;
	snprintf(url, sizeof(url), "%s/opc/v2/%s", m->base, path);
	if (oci_http_do(&m->http, "GET", url, hdrs, 1, NULL, 0, &r, e))
		return mg_err_prefix(e, "IMDS");
	if (r.status != 200) {
		mg_err_set(e, "IMDS GET /opc/v2/%s: HTTP %ld", path, r.status);
		oci_resp_free(&r);
		return -1;
	}
	*out = r.body;
	if (len)
		*len = r.len;
	return 0;
}

/* ---------------------------------------------------------------- federation */

void oci_auth_clear(struct oci_auth *a)
{
	EVP_PKEY_free(a->session);
	a->session = NULL;
	if (a->token) {
		OPENSSL_cleanse(a->token, strlen(a->token));
		free(a->token);
		a->token = NULL;
	}
	a->exp = 0;
}

static time_t auth_now(const struct oci_auth *a)
{
	return a->now ? a->now() : time(NULL);
}

struct leaf {
	X509 *cert;
	EVP_PKEY *key;
	X509 *inter;
	char fp[128];
	char tenancy[CLOUD_ID_LEN];
};

static void leaf_free(struct leaf *l)
{
	X509_free(l->cert);
	X509_free(l->inter);
	EVP_PKEY_free(l->key);
	memset(l, 0, sizeof(*l));
}

static X509 *cert_of(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

/* OU=opc-tenant:<tenancy> of the leaf's subject. */
static int tenancy_of(X509 *x, char *out, size_t outlen, mg_err *e)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = -1;

	while ((i = X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, i)) >= 0) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
		const char *s = (const char *)ASN1_STRING_get0_data(d);
		int l = ASN1_STRING_length(d);
		if (l > 11 && !strncmp(s, "opc-tenant:", 11)) {
			if ((size_t)(l - 11) >= outlen || memchr(s, '\0', (size_t)l))
				return mg_err_set(e,
						  "the instance certificate's tenancy is too long");
			memcpy(out, s + 11, (size_t)(l - 11));
			out[l - 11] = '\0';
			return 0;
		}
	}
	return mg_err_set(e, "the instance certificate names no opc-tenant");
}

static int leaf_fetch(struct oci_imds *m, struct leaf *l, mg_err *e)
{
	char *pem = NULL;
	size_t len = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdl = 0;

	memset(l, 0, sizeof(*l));
	if (oci_imds_get(m, "identity/cert.pem", &pem, &len, e))
		return -1;
	l->cert = cert_of(pem, len);
	free(pem);
	if (!l->cert)
		return mg_err_set(e, "IMDS identity/cert.pem is not a certificate");
	if (X509_digest(l->cert, EVP_sha1(), md, &mdl) != 1)
		goto bad;
	l->fp[0] = '\0';
	for (unsigned i = 0; i < mdl; i++) {
		size_t o = strlen(l->fp);
		snprintf(l->fp + o, sizeof(l->fp) - o, "%s%02X", i ? ":" : "", md[i]);
	}
	if (tenancy_of(l->cert, l->tenancy, sizeof(l->tenancy), e))
		goto fail;
	if (oci_imds_get(m, "identity/key.pem", &pem, &len, e))
		goto fail;
	l->key = oci_key_from_pem(pem, len, e);
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (!l->key) {
		mg_err_prefix(e, "IMDS identity/key.pem");
		goto fail;
	}
	if (oci_imds_get(m, "identity/intermediate.pem", &pem, &len, e))
		goto fail;
	l->inter = cert_of(pem, len);
	free(pem);
	if (!l->inter) {
		mg_err_set(e, "IMDS identity/intermediate.pem is not a certificate");
		goto fail;
	}
	return 0;
bad:
	mg_err_set(e, "OpenSSL: certificate digest failed");
fail:
	leaf_free(l);
	return -1;
}

/* base64 of a DER encoding, no armour, no line breaks. */
static int der_b64(int (*enc)(const void *, unsigned char **), const void *obj, struct mg_buf *b,
		   mg_err *e)
{
	unsigned char *der = NULL;
	int n = enc(obj, &der);
	char *out;
	size_t ol;

	if (n <= 0)
		return mg_err_set(e, "OpenSSL: DER encoding failed");
	ol = b64_enc_len((size_t)n) + 1;
	out = malloc(ol);
	if (!out || b64_encode(der, (size_t)n, out, ol) < 0) {
		OPENSSL_free(der);
		free(out);
		return mg_err_set(e, "out of memory");
	}
	mg_buf_add(b, out);
	OPENSSL_free(der);
	free(out);
	return 0;
}

static int enc_x509(const void *x, unsigned char **o)
{
	return i2d_X509((X509 *)x, o);
}

static int enc_pub(const void *k, unsigned char **o)
{
	return i2d_PUBKEY((EVP_PKEY *)k, o);
}

static int federate(struct oci_auth *a, struct leaf *l, mg_err *e)
{
	struct mg_buf body = {.max = 64 * 1024};
	EVP_PKEY *sess = EVP_RSA_gen(2048);
	char url[CLOUD_URL_LEN + 16], date[40], clen[32], sha[48], host[CLOUD_URL_LEN];
	char key_id[CLOUD_ID_LEN + 160];
	char *bs = NULL, *auth = NULL, *hauth = NULL;
	struct oci_resp r = {0};
	int rc = -1;

	if (!sess)
		return mg_err_set(e, "OpenSSL: cannot make a session RSA key");
	mg_buf_add(&body, "{\"certificate\":\"");
	if (der_b64(enc_x509, l->cert, &body, e))
		goto out;
	mg_buf_add(&body, "\",\"publicKey\":\"");
	if (der_b64(enc_pub, sess, &body, e))
		goto out;
	mg_buf_add(&body, "\",\"intermediateCertificates\":[\"");
	if (der_b64(enc_x509, l->inter, &body, e))
		goto out;
	mg_buf_add(&body, "\"],\"purpose\":\"DEFAULT\",\"fingerprintAlgorithm\":\"SHA1\"}");
	bs = mg_buf_take(&body);
	if (!bs) {
		mg_err_set(e, "out of memory");
		goto out;
	}
	snprintf(host, sizeof(host), "%s", a->auth_url + 8);
	host[strcspn(host, "/")] = '\0';
	snprintf(url, sizeof(url), "%s/v1/x509", a->auth_url);
	time_t signed_at = auth_now(a);
	oci_http_date(signed_at, date);
	snprintf(clen, sizeof(clen), "%zu", strlen(bs));
	if (oci_body_sha256_b64(bs, strlen(bs), sha, e))
		goto out;
	snprintf(key_id, sizeof(key_id), "%s/fed-x509/%s", l->tenancy, l->fp);
	const struct oci_hdr sh[] = {
	    {"date", date},
	    {"(request-target)", NULL},
	    {"content-length", clen},
	    {"content-type", "application/json"},
	    {"x-content-sha256", sha},
	};
	auth = oci_authorization(l->key, key_id, "POST", "/v1/x509", sh, MG_ARRAY_SIZE(sh), e);
	if (!auth)
		goto out;
	char hd[5][96], *hauth_s;
	snprintf(hd[0], sizeof(hd[0]), "date: %s", date);
	snprintf(hd[1], sizeof(hd[1]), "content-type: application/json");
	snprintf(hd[2], sizeof(hd[2]), "x-content-sha256: %s", sha);
	snprintf(hd[3], sizeof(hd[3]), "content-length: %s", clen);
	hauth = malloc(strlen(auth) + 32);
	if (!hauth) {
		mg_err_set(e, "out of memory");
		goto out;
	}
	sprintf(hauth, "authorization: %s", auth);
	hauth_s = hauth;
	const char *hl[] = {hd[0], hd[1], hd[2], hd[3], hauth_s};
	if (oci_http_do(&a->http, "POST", url, hl, MG_ARRAY_SIZE(hl), bs, strlen(bs), &r, e)) {
		mg_err_prefix(e, "federation");
		goto out;
	}
	if (r.status == 401) {
		char why[240];
		oci_401_hint(r.date, signed_at, why, sizeof(why));
		mg_err_set(e, "federation at %s refused: HTTP 401 (opc-request-id %s): %s", url,
			   r.request_id, why);
		goto out;
	}
	if (r.status != 200) {
		mg_err_set(e, "federation at %s refused: HTTP %ld %.200s (opc-request-id %s)", url,
			   r.status, r.body ? r.body : "", r.request_id);
		goto out;
	}
	char *tok = malloc(OCI_TOKEN_MAX);
	time_t exp = 0;
	if (!tok) {
		mg_err_set(e, "out of memory");
		goto out;
	}
	if (oci_parse_federation(r.body, r.len, tok, OCI_TOKEN_MAX, &exp, e)) {
		free(tok);
		goto out;
	}
	oci_auth_clear(a);
	a->token = tok;
	a->exp = exp;
	a->session = sess;
	sess = NULL;
	snprintf(a->leaf_fp, sizeof(a->leaf_fp), "%s", l->fp);
	snprintf(a->tenancy, sizeof(a->tenancy), "%s", l->tenancy);
	log_info("OCI: federated as an instance principal of %s; token valid for %lld s",
		 l->tenancy, (long long)(exp - auth_now(a)));
	rc = 0;
out:
	EVP_PKEY_free(sess);
	mg_buf_free(&body);
	free(bs);
	free(auth);
	free(hauth);
	oci_resp_free(&r);
	return rc;
}

int oci_auth_refresh(struct oci_auth *a, struct oci_imds *m, bool force, mg_err *e)
{
	time_t now = auth_now(a);
	bool valid = a->token && now + 300 < a->exp;
	struct leaf l;

	if (valid && !force && now - a->cert_checked < 60)
		return 0;
	if (leaf_fetch(m, &l, e)) {
		if (valid && !force) {
			log_warn("OCI: instance certificate not checked: %s", e->msg);
			mg_err_clear(e);
			return 0;
		}
		return -1;
	}
	a->cert_checked = now;
	if (valid && !force && !strcmp(l.fp, a->leaf_fp)) {
		leaf_free(&l);
		return 0;
	}
	if (valid && !force)
		log_info("OCI: the instance certificate rotated; federating again");
	int rc = federate(a, &l, e);
	leaf_free(&l);
	if (rc && valid && !force) {
		log_warn("OCI: token not refreshed: %s", e->msg);
		mg_err_clear(e);
		return 0;
	}
	return rc;
}
