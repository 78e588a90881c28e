/* SPDX-License-Identifier: MIT */
/* AWS Signature Version 4 (AWS4-HMAC-SHA256), header signing, with OpenSSL. */
#ifndef MG_AWS_SIGV4_H
#define MG_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "err.h"

struct aws_creds {
	char access_key_id[128];
	char secret_access_key[128];
	char token[4096];  /* session token; "" for long-term keys */
	time_t expiration; /* 0 = does not expire */
};

/* Wipe secrets. */
void aws_creds_clear(struct aws_creds *c);

struct sigv4_header {
	const char *name;
	const char *value; /* may contain runs of blanks and line breaks: they are folded */
};

struct sigv4_req {
	const char *method;
	const char *target; /* raw path with optional "?query", as on the request line */
	const struct sigv4_header *headers; /* must include Host */
	size_t n_headers;
	const void *body;
	size_t body_len;
	const char *region;
	const char *service;
	time_t when;
	bool no_normalize;       /* S3-style: keep "." / ".." / "//" in the path */
	bool sign_body;          /* also sign x-amz-content-sha256 */
	bool omit_session_token; /* send the token but leave it out of the signature */
};

struct sigv4_out {
	char amz_date[17];       /* YYYYMMDDTHHMMSSZ */
	char content_sha256[65]; /* hex SHA-256 of the body */
	char signature[65];
	char *canonical_request; /* heap */
	char *string_to_sign;    /* heap */
	char *authorization;     /* heap: the value of the Authorization header */
};

/* Sign a request with `c`. Returns 0 or -1 with `e` set; free `out` with sigv4_out_free(). */
int sigv4_sign(const struct sigv4_req *r, const struct aws_creds *c, struct sigv4_out *out,
	       mg_err *e);
void sigv4_out_free(struct sigv4_out *o);

/*
 * RFC 3986 encoding as SigV4 wants it: A-Z a-z 0-9 - _ . ~ kept, everything else %XX
 * (upper-case hex); '/' kept when keep_slash. Returns a heap string or NULL (no memory).
 */
char *aws_uri_encode(const char *s, size_t len, bool keep_slash);

/* Lower-case hex SHA-256 of buf. */
void aws_sha256_hex(const void *buf, size_t len, char out[65]);

#endif
