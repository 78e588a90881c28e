/* SPDX-License-Identifier: MIT */
/* The controller's TLS key, self-signed certificate and pin; its admin token and hub key. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "ctl.h"
#include "fsutil.h"
#include "log.h"

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hex_decode(const char *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int h = hexval(in[2 * i]), l = h < 0 ? -1 : hexval(in[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return in[2 * n] ? -1 : 0;
}

void sha256_str(const char *s, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	if (EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) != 1)
		abort(); /* cannot happen with the default provider */
}

bool secret_matches(const char *secret, size_t len, const uint8_t hash[32])
{
	uint8_t h[32];
	sha256_str(secret, len, h);
	return CRYPTO_memcmp(h, hash, 32) == 0;
}

int secret_new(char out[CTL_SECRET_LEN + 1], mg_err *e)
{
	uint8_t r[32];
	char buf[64];
	int rc = 0;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return mg_err_set(e, "no random bytes from OpenSSL");
	if (b64url_encode(r, sizeof(r), buf, sizeof(buf)) < 0 || strlen(buf) != CTL_SECRET_LEN)
		rc = mg_err_set(e, "base64url encoding failed");
	else
		memcpy(out, buf, CTL_SECRET_LEN + 1);
	OPENSSL_cleanse(r, sizeof(r));
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int ossl_err(mg_err *e, const char *what)
{
	char buf[256];
	unsigned long code = ERR_get_error();
	ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	return mg_err_set(e, "%s: %s", what, code ? buf : "unknown OpenSSL error");
}

static char *bio_to_str(BIO *b, mg_err *e)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!s) {
		mg_err_set(e, "out of memory");
		return NULL;
	}
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static int make_cert(EVP_PKEY *key, const char *host, X509 **out, mg_err *e)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext = NULL;
	uint8_t serial[16], fam, addr[16];
	char san[300];
	BIGNUM *bn = NULL;

	if (!x)
		return ossl_err(e, "X509_new");
	if (addr_parse(host, &fam, addr) == 0)
		snprintf(san, sizeof(san), "IP:%s", host);
	else
		snprintf(san, sizeof(san), "DNS:%s", host);
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto ossl;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600) ||
	    !X509_set_pubkey(x, key))
		goto ossl;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1,
					-1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto ossl;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (!ext || !X509_add_ext(x, ext, -1))
		goto ossl;
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:FALSE");
	if (!ext || !X509_add_ext(x, ext, -1))
		goto ossl;
	X509_EXTENSION_free(ext);
	ext = NULL;
	if (!X509_sign(x, key, EVP_sha256()))
		goto ossl;
	BN_free(bn);
	*out = x;
	return 0;
ossl:
	X509_EXTENSION_free(ext);
	BN_free(bn);
	X509_free(x);
	return ossl_err(e, "making the self-signed certificate");
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *x, char **pem, mg_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	int rc = -1;

	if (!b)
		return ossl_err(e, "BIO_new");
	if (key ? !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
		: !PEM_write_bio_X509(b, x)) {
		ossl_err(e, "PEM encoding");
		goto out;
	}
	*pem = bio_to_str(b, e);
	if (!*pem)
		goto out;
	rc = fs_write_atomic(path, *pem, strlen(*pem), mode, e);
out:
	BIO_free(b);
	return rc;
}

static int compute_pin(X509 *x, char out[64], mg_err *e)
{
	unsigned char *der = NULL;
	uint8_t h[32];
	int n = i2d_PUBKEY(X509_get0_pubkey(x), &der);

	if (n <= 0)
		return ossl_err(e, "encoding the public key");
	sha256_str((const char *)der, (size_t)n, h);
	OPENSSL_free(der);
	memcpy(out, "sha256//", 8);
	if (b64_encode(h, sizeof(h), out + 8, 64 - 8) < 0)
		return mg_err_set(e, "base64 encoding failed");
	return 0;
}

static int path_in(const struct ctl_ctx *ctx, const char *name, char *out, size_t len, mg_err *e)
{
	if ((size_t)snprintf(out, len, "%s/%s", ctx->state_dir, name) >= len)
		return mg_err_set(e, "state directory path is too long");
	return 0;
}

int tls_setup(struct ctl_ctx *ctx, const char *host, mg_err *e)
{
	char kpath[4200], cpath[4200], ppath[4200];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	size_t len;
	int rc = -1;

	if (path_in(ctx, "key.pem", kpath, sizeof(kpath), e) < 0 ||
	    path_in(ctx, "cert.pem", cpath, sizeof(cpath), e) < 0 ||
	    path_in(ctx, "pin", ppath, sizeof(ppath), e) < 0)
		return -1;
	if (fs_exists(kpath) && fs_exists(cpath)) {
		if (fs_read_bounded(kpath, 64 * 1024, &ctx->tls_key_pem, &len, e) < 0 ||
		    fs_read_bounded(cpath, 64 * 1024, &ctx->tls_cert_pem, &len, e) < 0)
			return -1;
		b = BIO_new_mem_buf(ctx->tls_cert_pem, -1);
		if (!b || !(x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
			ossl_err(e, cpath);
			goto out;
		}
		BIO_free(b);
		b = BIO_new_mem_buf(ctx->tls_key_pem, -1);
		if (!b || !(key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL))) {
			ossl_err(e, kpath);
			goto out;
		}
		if (X509_check_private_key(x, key) != 1) {
			mg_err_set(e, "%s does not match %s; remove both to make new ones", kpath,
				   cpath);
			goto out;
		}
		{
			uint8_t fam, addr[16];
			int ok = addr_parse(host, &fam, addr) == 0
				     ? X509_check_ip_asc(x, host, 0)
				     : X509_check_host(x, host, 0, 0, NULL);
			if (ok != 1)
				log_warn("%s was made for another host than %s; clients that "
					 "check the name (not just the pin) will refuse it; remove "
					 "key.pem and cert.pem to make new ones",
					 cpath, host);
		}
	} else {
		key = EVP_EC_gen("P-256");
		if (!key) {
			ossl_err(e, "making the EC P-256 key");
			goto out;
		}
		if (make_cert(key, host, &x, e) < 0 ||
		    write_pem(kpath, 0600, key, NULL, &ctx->tls_key_pem, e) < 0 ||
		    write_pem(cpath, 0644, NULL, x, &ctx->tls_cert_pem, e) < 0)
			goto out;
	}
	if (compute_pin(x, ctx->pin, e) < 0 ||
	    fs_write_atomic(ppath, ctx->pin, strlen(ctx->pin), 0644, e) < 0)
		goto out;
	rc = 0;
out:
	BIO_free(b);
	EVP_PKEY_free(key);
	X509_free(x);
	return rc;
}

int secrets_setup(struct ctl_ctx *ctx, mg_err *e)
{
	char path[4200], tok[CTL_SECRET_LEN + 1], b64[WG_KEY_B64_LEN + 1];
	char *buf = NULL;
	size_t len = 0;

	if (path_in(ctx, "admin.token", path, sizeof(path), e) < 0)
		return -1;
	if (fs_read_bounded(path, 1024, &buf, &len, e) == 0) {
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		if (len < 16) {
			free(buf);
			return mg_err_set(e, "%s is too short to be an admin token", path);
		}
		sha256_str(buf, len, ctx->admin_hash);
		OPENSSL_cleanse(buf, len);
		free(buf);
	} else if (errno == ENOENT) {
		if (secret_new(tok, e) < 0 || fs_write_atomic(path, tok, strlen(tok), 0600, e) < 0)
			return -1;
		sha256_str(tok, strlen(tok), ctx->admin_hash);
		OPENSSL_cleanse(tok, sizeof(tok));
	} else {
		return -1;
	}

	if (path_in(ctx, "hub.key", path, sizeof(path), e) < 0)
		return -1;
	buf = NULL;
	if (fs_read_bounded(path, 1024, &buf, &len, e) == 0) {
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		int bad = wgkey_from_base64(buf, ctx->hub_priv);
		OPENSSL_cleanse(buf, len);
		free(buf);
		if (bad < 0)
			return mg_err_set(e, "%s does not hold a base64 WireGuard private key",
					  path);
	} else if (errno == ENOENT) {
		if (wgkey_generate(ctx->hub_priv, e) < 0)
			return -1;
		wgkey_to_base64(ctx->hub_priv, b64);
		strcat(b64, "\n");
		int rc = fs_write_atomic(path, b64, strlen(b64), 0600, e);
		OPENSSL_cleanse(b64, sizeof(b64));
		if (rc < 0)
			return -1;
	} else {
		return -1;
	}
	return wgkey_public(ctx->hub_priv, ctx->hub_pub, e);
}
