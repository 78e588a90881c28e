/* SPDX-License-Identifier: MIT */
/*
 * Azure Resource Manager client: bearer-token requests with retries (429, 5xx, 409
 * AnotherOperationInProgress, RetryableErrorDueToAnotherOperation: Retry-After honoured
 * within bounds, else jittered backoff), one token refresh on 401 Expired/Invalid token,
 * long-running operations followed (Azure-AsyncOperation, else Location) to the end, and
 * the mapping of ARM errors onto the provider-neutral kinds.
 */
#ifndef MG_AZURE_ARM_H
#define MG_AZURE_ARM_H

#include <stdbool.h>
#include <stdint.h>

#include "azure_http.h"
#include "azure_json.h"
#include "cloud.h"

#define AZ_ARM_DEFAULT "https://management.azure.com"

/* What ARM said when it said no. */
struct az_err {
	long status;   /* 0 = no HTTP answer */
	char code[96]; /* ARM error code, "" when none */
	char message[400];
	bool aborted; /* aborted or fenced: not (fully) done */
	bool lro;     /* the long-running operation failed, not the request */
};

/* A bearer token header value ("Bearer ..."): current, or a new one when `force`. */
typedef int (*az_token_fn)(void *ud, bool force, char *hdr, size_t hdr_len, mg_err *e);

struct az_arm {
	char base[CLOUD_URL_LEN]; /* no trailing '/' */
	char ca_file[CLOUD_PATH_LEN];
	long timeout_ms;
	int max_attempts;
	long backoff_base_ms, backoff_cap_ms;
	long retry_after_cap_ms; /* the longest Retry-After honoured as given */
	long lro_max_ms;         /* give up following an operation after this long */
	az_token_fn token;
	void *token_ud;
	const struct cloud_hooks *hooks;
	struct httpc_abort abort;
	uint32_t (*rand32)(void); /* tests; NULL = OpenSSL */
	const char *protocols;    /* tests (a plain-HTTP server); NULL = https only */
};

int az_arm_init(struct az_arm *c, const char *base, const char *ca_file, az_token_fn token,
		void *token_ud, const struct cloud_hooks *hooks, mg_err *e);

/* GET `path` (starting with '/', api-version included). 0 with the 200 body in *out
 * (heap, NUL-terminated), or -1 with err and e. */
int az_arm_get(struct az_arm *c, const char *path, char **out, size_t *out_len, struct az_err *err,
	       mg_err *e);

/*
 * PUT (body) or DELETE `path`, with an optional condition header ("If-Match: ..."), then
 * follow the operation to its end. DELETE: 404 and 204 count as done. 0, or -1.
 */
int az_arm_write(struct az_arm *c, const char *method, const char *path, const char *body,
		 const char *cond, struct az_err *err, mg_err *e);

/* The provider-neutral kind of an ARM error; fills `perm` for AuthorizationFailed. */
enum cloud_err_kind az_err_kind(const struct az_err *err, char *perm, size_t perm_len);
/* The role that grants an action, for messages. */
const char *az_role_for(const char *action);
/* Full jitter in [base/2, min(cap, base * 2^attempt)]. */
long az_backoff_ms(long base, long cap, int attempt, uint32_t r);

#endif
