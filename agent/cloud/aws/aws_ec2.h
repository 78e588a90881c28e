/* SPDX-License-Identifier: MIT */
/* EC2 Query API (Version 2016-11-15): form-encoded, SigV4-signed POSTs; XML answers. */
#ifndef MG_AWS_EC2_H
#define MG_AWS_EC2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws_sigv4.h"
#include "cidr.h"
#include "cloud.h"
#include "err.h"
#include "httpc.h"

#define AWS_EC2_VERSION  "2016-11-15"
#define AWS_EC2_MAX_BODY (4u << 20) /* response bytes; a page of 100 tables fits easily */

struct aws_param {
	const char *name;
	const char *value;
};

/* What the API said when it said no. */
struct aws_ec2_error {
	long http_status; /* 0 = no HTTP answer (transport error) */
	char code[64];    /* e.g. "RouteAlreadyExists"; "" when the body had none */
	char message[256];
	char request_id[80];
	bool retryable;  /* throttling, 5xx, InternalError, Unavailable, transport */
	bool auth;       /* credentials rejected or expired: refresh and retry once */
	bool aborted;    /* given up because the abort hook said so */
	char action[64]; /* the action that failed */
};

/* Answer of one HTTP exchange; the default sends it with libcurl. */
typedef int (*aws_ec2_transport_fn)(void *ud, const char *url, const char *const *headers,
				    size_t n_headers, const char *body, long *status, char **resp,
				    size_t *resp_len, mg_err *e);
/* Current credentials; `force` after the API rejected the previous ones. */
typedef int (*aws_ec2_creds_fn)(void *ud, bool force, struct aws_creds *out, mg_err *e);

struct aws_ec2 {
	char endpoint[CLOUD_URL_LEN]; /* https://ec2.<region>.amazonaws.com */
	char host[CLOUD_URL_LEN];     /* Host header value (with a non-default port) */
	char region[64];
	char ca_file[CLOUD_PATH_LEN];
	long timeout_ms;
	/* retries of retryable errors: full jitter, base * 2^n capped */
	int max_attempts;
	long backoff_base_ms, backoff_cap_ms;
	aws_ec2_creds_fn creds;
	void *creds_ud;
	/* hooks for tests (NULL = the real thing) */
	aws_ec2_transport_fn transport;
	void *transport_ud;
	void (*sleep_ms)(void *ud, long ms);
	void *sleep_ud;
	time_t (*now)(void);
	uint32_t (*rand32)(void);
	/* polled before every attempt, in retry sleeps and during transfers: true = give up
	 * now (the call fails with err->aborted). aborted may be NULL. */
	struct httpc_abort abort;
	/* where each request is counted (cloud_call_count); NULL = nowhere */
	const struct cloud_hooks *hooks;
	/* the default transport's handle, kept between calls so its TLS connection to EC2 is
	 * reused (one thread uses a client at a time); freed by aws_ec2_close */
	void *curl;
};

/* endpoint NULL or "" = https://ec2.<region>.amazonaws.com. Returns 0 or -1. */
int aws_ec2_init(struct aws_ec2 *c, const char *region, const char *endpoint, const char *ca_file,
		 aws_ec2_creds_fn creds, void *creds_ud, mg_err *e);

/* Free what the client holds (its HTTP handle and connection). */
void aws_ec2_close(struct aws_ec2 *c);

/* "Action=..&Version=2016-11-15&Name=Value..." with SigV4 URI encoding; heap or NULL. */
char *aws_ec2_form(const char *action, const struct aws_param *p, size_t n);

/* Full jitter: a value in [0, min(cap, base * 2^attempt)]. */
long aws_backoff_ms(long base, long cap, int attempt, uint32_t r);

/*
 * One action with retries. 0: *resp (heap, NUL-terminated XML) is the success body.
 * -1: `err` says what the API answered (code "" for transport errors) and `e` carries one
 * actionable line.
 */
int aws_ec2_call(struct aws_ec2 *c, const char *action, const struct aws_param *p, size_t n,
		 char **resp, size_t *resp_len, struct aws_ec2_error *err, mg_err *e);

/* The route tables of VPC `vpc_id` (n_ids == 0) or the listed ones, all pages. */
int aws_ec2_describe_route_tables(struct aws_ec2 *c, const char *vpc_id, const char *const *ids,
				  size_t n_ids, struct cloud_scopes *out, struct aws_ec2_error *err,
				  mg_err *e);
int aws_ec2_create_route(struct aws_ec2 *c, const char *table, const struct cidr *dst,
			 const char *eni, struct aws_ec2_error *err, mg_err *e);
int aws_ec2_replace_route(struct aws_ec2 *c, const char *table, const struct cidr *dst,
			  const char *eni, struct aws_ec2_error *err, mg_err *e);
/* A route that is not there (InvalidRoute.NotFound) counts as deleted. */
int aws_ec2_delete_route(struct aws_ec2 *c, const char *table, const struct cidr *dst,
			 struct aws_ec2_error *err, mg_err *e);
int aws_ec2_set_source_dest_check(struct aws_ec2 *c, const char *eni, bool on,
				  struct aws_ec2_error *err, mg_err *e);
int aws_ec2_get_source_dest_check(struct aws_ec2 *c, const char *eni, bool *on,
				  struct aws_ec2_error *err, mg_err *e);

/* ---- XML parsers (pure; what the fuzz target drives) ---- */
#define AWS_XML_MAX (8u << 20)

/* Append the tables of one DescribeRouteTablesResponse page to `out`; copy its nextToken
 * ("" when it is the last page). 0 or -1 with `e` set (out keeps what was appended). */
int aws_xml_route_tables(const char *buf, size_t len, struct cloud_scopes *out, char *next_token,
			 size_t next_len, mg_err *e);
/* <return>true</return> of <root> (CreateRoute, ReplaceRoute, DeleteRoute, Modify...). */
int aws_xml_return_true(const char *buf, size_t len, const char *root, mg_err *e);
/* DescribeNetworkInterfaceAttribute: <sourceDestCheck><value>true|false</value>. */
int aws_xml_source_dest_check(const char *buf, size_t len, bool *on, mg_err *e);
/* Fill `err` from an error body (<Response><Errors><Error><Code>/<Message>, <RequestID>)
 * and the HTTP status; classify it; always succeeds (unknown bodies give code ""). */
void aws_xml_error(const char *buf, size_t len, long http_status, struct aws_ec2_error *err);
/* One actionable line for an API error of `action`. */
void aws_ec2_error_msg(const struct aws_ec2_error *err, const char *action, mg_err *e);

#endif
