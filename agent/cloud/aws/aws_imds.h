/* SPDX-License-Identifier: MIT */
/* IMDSv2 client: session token (PUT), metadata GETs, identity and role credentials. */
#ifndef MG_AWS_IMDS_H
#define MG_AWS_IMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws_sigv4.h"
#include "cloud.h"
#include "err.h"
#include "httpc.h"

#define AWS_IMDS_DEFAULT  "http://169.254.169.254"
#define AWS_IMDS_MAX_BODY 65536
/* Re-read role credentials this long before they expire (AWS rotates 5 min ahead). */
#define AWS_CREDS_REFRESH_MARGIN (5 * 60)

struct aws_imds {
	char base[CLOUD_URL_LEN]; /* no trailing '/' */
	char token[512];
	time_t token_expiry;
	int token_ttl;            /* seconds asked for; at most 21600 */
	char role[128];           /* the IAM role of the last credentials read ("" = none) */
	long timeout_ms;          /* per request */
	time_t (*now)(void);      /* tests; NULL = time() */
	struct httpc_abort abort; /* polled during requests; aborted may be NULL */
};

/* base NULL or "" = AWS_IMDS_DEFAULT. */
int aws_imds_init(struct aws_imds *m, const char *base, mg_err *e);
/* Wipe the token. */
void aws_imds_cleanup(struct aws_imds *m);

/* 1 if an IMDSv2 token PUT to base answers 200 within timeout_ms, else 0. */
int aws_imds_probe(const char *base, long timeout_ms);

/* GET /latest/<path> with a token (fetched or refreshed as needed, and once more after a
 * 401) into out (NUL-terminated; longer answers are an error). Returns 0, or -1;
 * *status (optional) is the HTTP status, 0 without an answer. */
int aws_imds_get(struct aws_imds *m, const char *path, char *out, size_t outlen, long *status,
		 mg_err *e);

/* instance-id, placement/region, mac -> interface-id, vpc-id, vpc-ipv4-cidr-blocks,
 * local-ipv4. */
int aws_imds_identity(struct aws_imds *m, struct cloud_identity *id, mg_err *e);

/* iam/security-credentials/ -> the first role -> its credentials. */
int aws_imds_credentials(struct aws_imds *m, struct aws_creds *c, mg_err *e);

/* Parse the credential JSON of IMDS (Code, AccessKeyId, SecretAccessKey, Token,
 * Expiration). */
int aws_creds_parse(const char *json, size_t len, struct aws_creds *c, mg_err *e);

/* True when `c` is missing or expires within AWS_CREDS_REFRESH_MARGIN of now. */
bool aws_creds_need_refresh(const struct aws_creds *c, time_t now);

#endif
