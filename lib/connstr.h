/* SPDX-License-Identifier: MIT */
/*
 * Connection strings: "mg1:" + base64url(JSON {"url","token","pin"}), one pasteable
 * line that carries everything enrolment needs and nothing it must trust besides.
 */
#ifndef MG_CONNSTR_H
#define MG_CONNSTR_H

#include <stddef.h>

#include "err.h"

#define CONNSTR_PREFIX    "mg1:"
#define CONNSTR_MAX       2048
#define CONNSTR_URL_MAX   256
#define CONNSTR_TOKEN_MAX 128
#define CONNSTR_PIN_MAX   128

struct connstr {
	char url[CONNSTR_URL_MAX];     /* https://host[:port], no path, query or user info */
	char token[CONNSTR_TOKEN_MAX]; /* enrolment token: [A-Za-z0-9_-], 16..127 chars */
	char pin[CONNSTR_PIN_MAX];     /* "sha256//" + base64 of 32 bytes (SPKI hash) */
};

/* Leading and trailing whitespace is ignored (pasting adds some). */
int connstr_parse(const char *s, struct connstr *out, mg_err *e);
/* Validates before formatting. Returns 0 or -1. */
int connstr_format(const struct connstr *c, char *out, size_t outlen, mg_err *e);

/* Field validators, shared with the controller and state loading. */
int connstr_check_url(const char *url, mg_err *e);
int connstr_check_token(const char *token, mg_err *e);
int connstr_check_pin(const char *pin, mg_err *e);

#endif
