/* SPDX-License-Identifier: MIT */
#include "aws_sigv4.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

#define SIGV4_MAX_HEADERS  64
#define SIGV4_MAX_PARAMS   256
#define SIGV4_MAX_SEGMENTS 256

void aws_creds_clear(struct aws_creds *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}

static const char hexdig[] = "0123456789abcdef";

static void hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[p[i] >> 4];
		out[2 * i + 1] = hexdig[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void aws_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(buf ? buf : (const void *)"", len, md);
	hex(md, sizeof(md), out);
}

static int hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
	unsigned int olen = 32;

	if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen) || olen != 32)
		return -1;
	return 0;
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static void encode_into(struct mg_buf *b, const char *s, size_t len, bool keep_slash)
{
	static const char up[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x80 && unreserved(c)) || (keep_slash && c == '/')) {
			mg_buf_addc(b, (char)c);
		} else {
			char t[3] = {'%', up[c >> 4], up[c & 15]};
			mg_buf_addn(b, t, 3);
		}
	}
}

char *aws_uri_encode(const char *s, size_t len, bool keep_slash)
{
	struct mg_buf b = {.secret = true};

	encode_into(&b, s, len, keep_slash);
	return mg_buf_take(&b);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode s[0..len) into a heap string (a stray '%' stays as is). */
static char *decode(const char *s, size_t len, size_t *olen)
{
	char *o = malloc(len + 1);
	size_t j = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < len && (h = hexval(s[i + 1])) >= 0 &&
		    (l = hexval(s[i + 2])) >= 0) {
			o[j++] = (char)(h * 16 + l);
			i += 2;
		} else {
			o[j++] = s[i];
		}
	}
	o[j] = '\0';
	*olen = j;
	return o;
}

struct qparam {
	char *k, *v; /* encoded */
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

/* Canonical query string of `q` (without '?'), appended to b. */
static int canonical_query(struct mg_buf *b, const char *q, mg_err *e)
{
	struct qparam *ps;
	size_t n = 0, i;
	const char *p = q;
	int rc = -1;

	ps = calloc(SIGV4_MAX_PARAMS, sizeof(*ps));
	if (!ps)
		return mg_err_set(e, "out of memory");
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t kl = eq ? (size_t)(eq - p) : len, dl;
		char *d;

		if (len) {
			if (n == SIGV4_MAX_PARAMS) {
				mg_err_set(e, "more than %d query parameters", SIGV4_MAX_PARAMS);
				goto out;
			}
			d = decode(p, kl, &dl);
			ps[n].k = d ? aws_uri_encode(d, dl, false) : NULL;
			free(d);
			d = eq ? decode(eq + 1, len - kl - 1, &dl) : strdup("");
			if (d && !eq)
				dl = 0;
			ps[n].v = d ? aws_uri_encode(d, dl, false) : NULL;
			free(d);
			n++;
			if (!ps[n - 1].k || !ps[n - 1].v) {
				mg_err_set(e, "out of memory");
				goto out;
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
	qsort(ps, n, sizeof(*ps), qparam_cmp);
	for (i = 0; i < n; i++) {
		if (i)
			mg_buf_addc(b, '&');
		mg_buf_add(b, ps[i].k);
		mg_buf_addc(b, '=');
		mg_buf_add(b, ps[i].v);
	}
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		free(ps[i].k);
		free(ps[i].v);
	}
	free(ps);
	return rc;
}

/* RFC 3986 dot-segment removal plus collapsing of empty segments, then encoding. */
static int canonical_path(struct mg_buf *b, const char *path, size_t len, bool normalize, mg_err *e)
{
	const char *seg[SIGV4_MAX_SEGMENTS];
	size_t seglen[SIGV4_MAX_SEGMENTS];
	size_t n = 0, i = 0;
	bool trailing = false;

	if (!len) {
		mg_buf_addc(b, '/');
		return 0;
	}
	if (!normalize) {
		encode_into(b, path, len, true);
		return 0;
	}
	while (i < len) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t sl = j - i;
		const char *s = path + i;
		trailing = j >= len ? false : true;
		if (sl == 0) {
			/* empty segment: "//" collapses */
		} else if (sl == 1 && s[0] == '.') {
			trailing = true;
		} else if (sl == 2 && s[0] == '.' && s[1] == '.') {
			if (n)
				n--;
			trailing = true;
		} else {
			if (n == SIGV4_MAX_SEGMENTS)
				return mg_err_set(e, "request path has too many segments");
			seg[n] = s;
			seglen[n++] = sl;
		}
		i = j + 1;
	}
	if (len && path[len - 1] == '/')
		trailing = true;
	mg_buf_addc(b, '/');
	for (i = 0; i < n; i++) {
		if (i)
			mg_buf_addc(b, '/');
		encode_into(b, seg[i], seglen[i], false);
	}
	if (n && trailing)
		mg_buf_addc(b, '/');
	return 0;
}

struct chdr {
	char *name; /* lower case */
	struct mg_buf value;
	size_t order;
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Trim and fold every run of blanks or line breaks into one space. */
static void add_trimmed(struct mg_buf *b, const char *v)
{
	bool space = false, any = false;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			space = any;
			continue;
		}
		if (space)
			mg_buf_addc(b, ' ');
		mg_buf_addc(b, *v);
		space = false;
		any = true;
	}
}

static bool valid_header_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == ':' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

void sigv4_out_free(struct sigv4_out *o)
{
	free(o->canonical_request);
	free(o->string_to_sign);
	if (o->authorization) {
		OPENSSL_cleanse(o->authorization, strlen(o->authorization));
		free(o->authorization);
	}
	memset(o, 0, sizeof(*o));
}

int sigv4_sign(const struct sigv4_req *r, const struct aws_creds *c, struct sigv4_out *out,
	       mg_err *e)
{
	struct chdr *h = NULL;
	size_t nh = 0, i, n_in = r->n_headers;
	struct mg_buf cr = {.secret = true}, sh = {.secret = true}, sts = {.secret = true},
		      auth = {.secret = true};
	char date[9], scope_hash[65];
	unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
	char kinit[4 + sizeof(c->secret_access_key)];
	const char *q;
	struct tm tm;
	bool with_token = c->token[0] && !r->omit_session_token;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!r->method || !r->target || !r->region || !r->service || !c->access_key_id[0] ||
	    !c->secret_access_key[0])
		return mg_err_set(e, "SigV4: method, path, region, service and keys are required");
	if (n_in > SIGV4_MAX_HEADERS)
		return mg_err_set(e, "SigV4: more than %d headers", SIGV4_MAX_HEADERS);
	if (!gmtime_r(&r->when, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1970)
		return mg_err_set(e, "SigV4: time out of range");
	strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';
	aws_sha256_hex(r->body, r->body_len, out->content_sha256);

	h = calloc(n_in + 3, sizeof(*h));
	if (!h)
		return mg_err_set(e, "out of memory");
	for (i = 0; i < n_in + 3; i++)
		h[i].value.secret = true; /* the token */
	/* the caller's headers plus x-amz-date, the token and the body hash; repeats merge */
	for (i = 0; i < n_in + 3; i++) {
		const char *name, *value;
		size_t j;

		if (i < n_in) {
			name = r->headers[i].name;
			value = r->headers[i].value ? r->headers[i].value : "";
			if (!name || !valid_header_name(name)) {
				mg_err_set(e, "SigV4: invalid header name");
				goto out;
			}
		} else if (i == n_in) {
			name = "x-amz-date";
			value = out->amz_date;
		} else if (i == n_in + 1) {
			if (!with_token)
				continue;
			name = "x-amz-security-token";
			value = c->token;
		} else {
			if (!r->sign_body)
				continue;
			name = "x-amz-content-sha256";
			value = out->content_sha256;
		}
		for (j = 0; j < nh; j++)
			if (!strcasecmp(h[j].name, name))
				break;
		if (j == nh) {
			h[nh].name = strdup(name);
			if (!h[nh].name) {
				mg_err_set(e, "out of memory");
				goto out;
			}
			for (char *p = h[nh].name; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			h[nh].order = nh;
			nh++;
		} else {
			mg_buf_addc(&h[j].value, ',');
		}
		add_trimmed(&h[j].value, value);
		if (!h[j].value.p)
			mg_buf_add(&h[j].value, ""); /* an empty value still needs a string */
	}
	qsort(h, nh, sizeof(*h), chdr_cmp);
	for (i = 0; i < nh; i++) {
		if (h[i].value.failed) {
			mg_err_set(e, "out of memory");
			goto out;
		}
		if (i)
			mg_buf_addc(&sh, ';');
		mg_buf_add(&sh, h[i].name);
	}
	if (!nh || sh.failed) {
		mg_err_set(e, "out of memory");
		goto out;
	}

	/* canonical request */
	mg_buf_add(&cr, r->method);
	mg_buf_addc(&cr, '\n');
	q = strchr(r->target, '?');
	if (canonical_path(&cr, r->target, q ? (size_t)(q - r->target) : strlen(r->target),
			   !r->no_normalize, e))
		goto out;
	mg_buf_addc(&cr, '\n');
	if (q && canonical_query(&cr, q + 1, e))
		goto out;
	mg_buf_addc(&cr, '\n');
	for (i = 0; i < nh; i++) {
		mg_buf_add(&cr, h[i].name);
		mg_buf_addc(&cr, ':');
		mg_buf_add(&cr, h[i].value.p);
		mg_buf_addc(&cr, '\n');
	}
	mg_buf_addc(&cr, '\n');
	mg_buf_add(&cr, sh.p);
	mg_buf_addc(&cr, '\n');
	mg_buf_add(&cr, out->content_sha256);
	if (cr.failed) {
		mg_err_set(e, "out of memory");
		goto out;
	}

	/* string to sign */
	aws_sha256_hex(cr.p, cr.len, scope_hash);
	mg_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", out->amz_date, date,
		    r->region, r->service, scope_hash);
	if (sts.failed) {
		mg_err_set(e, "out of memory");
		goto out;
	}

	/* signing key and signature */
	memcpy(kinit, "AWS4", 4);
	size_t sl = strnlen(c->secret_access_key, sizeof(c->secret_access_key));
	memcpy(kinit + 4, c->secret_access_key, sl);
	if (hmac(kinit, 4 + sl, date, 8, k1) || hmac(k1, 32, r->region, strlen(r->region), k2) ||
	    hmac(k2, 32, r->service, strlen(r->service), k3) ||
	    hmac(k3, 32, "aws4_request", 12, k4) || hmac(k4, 32, sts.p, sts.len, sig)) {
		mg_err_set(e, "SigV4: HMAC-SHA256 failed");
		goto out;
	}
	hex(sig, 32, out->signature);
	mg_buf_addf(&auth,
		    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
		    "SignedHeaders=%s, Signature=%s",
		    c->access_key_id, date, r->region, r->service, sh.p, out->signature);
	out->canonical_request = mg_buf_take(&cr);
	out->string_to_sign = mg_buf_take(&sts);
	out->authorization = mg_buf_take(&auth);
	if (!out->canonical_request || !out->string_to_sign || !out->authorization) {
		mg_err_set(e, "out of memory");
		sigv4_out_free(out);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(kinit, sizeof(kinit));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	OPENSSL_cleanse(k4, sizeof(k4));
	for (i = 0; i < nh; i++) {
		free(h[i].name);
		mg_buf_free(&h[i].value); /* wipes the token copy */
	}
	free(h);
	mg_buf_free(&cr);
	mg_buf_free(&sh);
	mg_buf_free(&sts);
	mg_buf_free(&auth);
	return rc;
}
