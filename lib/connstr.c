/* SPDX-License-Identifier: MIT */
#include "connstr.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cidr.h"
#include "jsonu.h"

int connstr_check_url(const char *url, mg_err *e)
{
	const char *host, *p, *port = NULL;
	size_t hostlen;

	if (!url || strncmp(url, "https://", 8))
		return mg_err_set(e, "controller URL must start with https://");
	if (strlen(url) >= CONNSTR_URL_MAX)
		return mg_err_set(e, "controller URL is too long");
	host = url + 8;
	if (*host == '[') {
		const char *close = strchr(host, ']');
		char a[CIDR_STRLEN];
		uint8_t fam, addr[16];
		if (!close || (size_t)(close - host - 1) >= sizeof(a))
			return mg_err_set(e, "controller URL: bad IPv6 literal");
		memcpy(a, host + 1, (size_t)(close - host - 1));
		a[close - host - 1] = '\0';
		if (addr_parse(a, &fam, addr) < 0 || fam != AF_INET6)
			return mg_err_set(e, "controller URL: bad IPv6 literal");
		p = close + 1;
	} else {
		for (p = host; *p && *p != ':' && *p != '/'; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
				return mg_err_set(e, "controller URL: bad character in host name");
	}
	hostlen = (size_t)(p - host);
	if (hostlen == 0)
		return mg_err_set(e, "controller URL has no host");
	if (*p == ':') {
		port = p + 1;
		char *end;
		long v = strtol(port, &end, 10);
		if (end == port || v < 1 || v > 65535 || (*end && *end != '/') || *port == '0' ||
		    !isdigit((unsigned char)*port))
			return mg_err_set(e, "controller URL: bad port");
		p = end; /* a path after the port gets the path message below */
	}
	if (*p && strcmp(p, "/"))
		return mg_err_set(e, "controller URL must have no path, query or user info");
	return 0;
}

int connstr_check_token(const char *token, mg_err *e)
{
	size_t len = token ? strlen(token) : 0;
	if (len < 16 || len >= CONNSTR_TOKEN_MAX)
		return mg_err_set(e, "enrolment token must be 16 to %d characters",
				  CONNSTR_TOKEN_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)token[i]) && token[i] != '-' && token[i] != '_')
			return mg_err_set(e,
					  "enrolment token has a character outside [A-Za-z0-9_-]");
	return 0;
}

int connstr_check_pin(const char *pin, mg_err *e)
{
	uint8_t h[34];
	if (!pin || strncmp(pin, "sha256//", 8))
		return mg_err_set(e, "pin must look like sha256//<base64 of the key hash>");
	if (strlen(pin) != 8 + 44 || b64_decode(pin + 8, h, sizeof(h)) != 32)
		return mg_err_set(e, "pin must carry the base64 of a 32-byte SHA-256 hash");
	return 0;
}

int connstr_parse(const char *s, struct connstr *out, mg_err *e)
{
	char buf[CONNSTR_MAX + 1];
	uint8_t json[CONNSTR_MAX];
	const char *start, *end;
	long n;
	cJSON *j;
	static const char *const keys[] = {"url", "token", "pin", NULL};

	memset(out, 0, sizeof(*out));
	if (!s)
		return mg_err_set(e, "empty connection string");
	start = s;
	while (isspace((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	if (end == start)
		return mg_err_set(e, "empty connection string");
	if ((size_t)(end - start) > CONNSTR_MAX)
		return mg_err_set(e, "connection string is longer than %d characters", CONNSTR_MAX);
	if ((size_t)(end - start) < strlen(CONNSTR_PREFIX) ||
	    strncmp(start, CONNSTR_PREFIX, strlen(CONNSTR_PREFIX)))
		return mg_err_set(e,
				  "connection string must start with \"%s\" (copy it whole from "
				  "the controller)",
				  CONNSTR_PREFIX);
	memcpy(buf, start + 4, (size_t)(end - start - 4));
	buf[end - start - 4] = '\0';
	n = b64url_decode(buf, json, sizeof(json));
	if (n <= 0)
		return mg_err_set(e,
				  "connection string is damaged (not valid base64url after "
				  "\"%s\"); copy it again",
				  CONNSTR_PREFIX);
	j = jsonu_parse((const char *)json, (size_t)n, sizeof(json), e);
	if (!j)
		return mg_err_prefix(e, "connection string is damaged");
	if (jsonu_only_keys(j, keys, "connection string", e) < 0 ||
	    jsonu_copy_str(j, "url", true, out->url, sizeof(out->url), e) < 0 ||
	    jsonu_copy_str(j, "token", true, out->token, sizeof(out->token), e) < 0 ||
	    jsonu_copy_str(j, "pin", true, out->pin, sizeof(out->pin), e) < 0) {
		cJSON_Delete(j);
		return mg_err_prefix(e, "connection string");
	}
	cJSON_Delete(j);
	if (connstr_check_url(out->url, e) < 0 || connstr_check_token(out->token, e) < 0 ||
	    connstr_check_pin(out->pin, e) < 0)
		return mg_err_prefix(e, "connection string");
	return 0;
}

int connstr_format(const struct connstr *c, char *out, size_t outlen, mg_err *e)
{
	cJSON *j;
	char *txt;
	size_t len;

	if (connstr_check_url(c->url, e) < 0 || connstr_check_token(c->token, e) < 0 ||
	    connstr_check_pin(c->pin, e) < 0)
		return -1;
	j = cJSON_CreateObject();
	if (!j || !cJSON_AddStringToObject(j, "url", c->url) ||
	    !cJSON_AddStringToObject(j, "token", c->token) ||
	    !cJSON_AddStringToObject(j, "pin", c->pin)) {
		cJSON_Delete(j);
		return mg_err_set(e, "out of memory");
	}
	txt = jsonu_print(j, e);
	cJSON_Delete(j);
	if (!txt)
		return -1;
	len = strlen(txt);
	if (outlen < strlen(CONNSTR_PREFIX) + b64_enc_len(len)) {
		cJSON_free(txt);
		return mg_err_set(e, "connection string buffer too small");
	}
	memcpy(out, CONNSTR_PREFIX, strlen(CONNSTR_PREFIX));
	b64url_encode((const uint8_t *)txt, len, out + strlen(CONNSTR_PREFIX),
		      outlen - strlen(CONNSTR_PREFIX));
	cJSON_free(txt);
	return 0;
}
