/* SPDX-License-Identifier: MIT */
#include "azure_arm.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cloud_calls.h"
#include "azure_perms.h"
#include "log.h"

#define ARM_MAX_BODY AZ_JSON_MAX

static bool hooks_aborted(void *ud)
{
	return cloud_aborted(ud);
}

int az_arm_init(struct az_arm *c, const char *base, const char *ca_file, az_token_fn token,
		void *token_ud, const struct cloud_hooks *hooks, mg_err *e)
{
	int n;

	memset(c, 0, sizeof(*c));
	n = snprintf(c->base, sizeof(c->base), "%s", base && base[0] ? base : AZ_ARM_DEFAULT);
	if (n < 0 || (size_t)n >= sizeof(c->base))
		return mg_err_set(e, "ARM URL too long");
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (strncmp(c->base, "https://", 8) || strchr(c->base + 8, '/') || strchr(c->base, '?'))
		return mg_err_set(e, "ARM URL %s must be https://host[:port]", c->base);
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", ca_file ? ca_file : "");
	c->timeout_ms = 20000;
	c->max_attempts = 8;
	c->backoff_base_ms = 500;
	c->backoff_cap_ms = 8000;
	c->retry_after_cap_ms = 30000;
	c->lro_max_ms = 300000;
	c->token = token;
	c->token_ud = token_ud;
	c->hooks = hooks;
	c->abort = (struct httpc_abort){hooks_aborted, (void *)hooks};
	return 0;
}

long az_backoff_ms(long base, long cap, int attempt, uint32_t r)
{
	long hi = base;

	for (int i = 0; i < attempt && hi < cap; i++)
		hi *= 2;
	if (hi > cap)
		hi = cap;
	return hi / 2 + (long)(r % (uint32_t)(hi / 2 + 1));
}

static uint32_t rnd(const struct az_arm *c)
{
	uint32_t r = 0;

	if (c->rand32)
		return c->rand32();
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)time(NULL);
	return r;
}

static bool is_retryable(long status, const char *code)
{
	return status == 429 || status >= 500 ||
	       !strcmp(code, "RetryableErrorDueToAnotherOperation") ||
	       !strcmp(code, "AnotherOperationInProgress");
}

/* Our host only: a bearer token is never sent anywhere else. */
static int url_of(const struct az_arm *c, const char *path, char *url, size_t len, mg_err *e)
{
	size_t bl = strlen(c->base);

	if (path[0] == '/') {
		if (snprintf(url, len, "%s%s", c->base, path) >= (int)len)
			return mg_err_set(e, "ARM URL too long");
		return 0;
	}
	if (strncmp(path, c->base, bl) || path[bl] != '/')
		return mg_err_set(e, "ARM handed out a URL on another host (%.80s); not followed",
				  path);
	if (strlen(path) >= len)
		return mg_err_set(e, "ARM URL too long");
	memcpy(url, path, strlen(path) + 1);
	return 0;
}

static void set_err(struct az_err *err, const struct az_resp *r)
{
	err->status = r->status;
	if (az_parse_error(r->body.p, r->body.len, err->code, sizeof(err->code), err->message,
			   sizeof(err->message)))
		snprintf(err->message, sizeof(err->message), "HTTP %ld%s", r->status,
			 r->body.len ? " (no ARM error body)" : "");
}

/*
 * One request with retries. 0: a 2xx answer in *r. -1: err (+ e) says why; r keeps the
 * last answer.
 */
static int call(struct az_arm *c, const char *method, const char *path, const char *body,
		const char *cond, struct az_resp *r, struct az_err *err, mg_err *e)
{
	char url[AZ_URL_MAX + CLOUD_URL_LEN], auth[8300], action[80];
	bool mutating = strcmp(method, "GET") != 0, refreshed = false;
	int rc = -1;

	memset(err, 0, sizeof(*err));
	if (url_of(c, path, url, sizeof(url), e))
		return -1;
	cloud_call_azure_action(method, url, action, sizeof(action));
	for (int attempt = 0; attempt < c->max_attempts; attempt++) {
		const char *hdrs[5] = {auth, "Accept: application/json", NULL, NULL, NULL};
		size_t nh = 2;
		long wait;

		if (cloud_aborted(c->hooks) || (mutating && !cloud_may_write(c->hooks))) {
			err->aborted = true;
			mg_err_set(e, "%s",
				   cloud_aborted(c->hooks) ? "aborted"
							   : "writes are not allowed now");
			goto out;
		}
		if (c->token(c->token_ud, false, auth, sizeof(auth), e))
			goto out;
		if (body)
			hdrs[nh++] = "Content-Type: application/json";
		if (cond)
			hdrs[nh++] = cond;
		struct az_req q = {.method = method,
				   .url = url,
				   .headers = hdrs,
				   .body = body,
				   .protocols = c->protocols,
				   .ca_file = c->ca_file,
				   .timeout_ms = c->timeout_ms,
				   .max_body = ARM_MAX_BODY,
				   .abort = &c->abort};
		if (az_http(&q, r, e)) {
			err->status = 0;
			err->code[0] = '\0';
			snprintf(err->message, sizeof(err->message), "%.399s", e->msg);
			if (r->aborted) {
				err->aborted = true;
				goto out;
			}
			if (r->too_big)
				goto out;
			cloud_call_count(c->hooks, "azure", action, 0, false);
			wait =
			    az_backoff_ms(c->backoff_base_ms, c->backoff_cap_ms, attempt, rnd(c));
		} else if (r->status >= 200 && r->status < 300) {
			cloud_call_count(c->hooks, "azure", action, r->status, false);
			rc = 0;
			goto out;
		} else {
			set_err(err, r);
			cloud_call_count(c->hooks, "azure", action, r->status,
					 !strcmp(err->code, "SubscriptionRequestsThrottled") ||
					     !strcmp(err->code, "TooManyRequests"));
			if (r->status == 401 && !refreshed &&
			    (!strcmp(err->code, "ExpiredAuthenticationToken") ||
			     !strcmp(err->code, "InvalidAuthenticationToken"))) {
				refreshed = true;
				log_info("azure: ARM says %s; fetching a new token", err->code);
				if (c->token(c->token_ud, true, auth, sizeof(auth), e))
					goto out;
				attempt--; /* not a retry of the same failure */
				continue;
			}
			if (!is_retryable(r->status, err->code))
				break;
			wait = r->retry_after_s >= 0
				   ? r->retry_after_s * 1000L
				   : az_backoff_ms(c->backoff_base_ms, c->backoff_cap_ms, attempt,
						   rnd(c));
			if (wait > c->retry_after_cap_ms)
				wait = c->retry_after_cap_ms;
		}
		if (attempt + 1 >= c->max_attempts)
			break;
		log_info("azure: %s %s: %s%s%s; retrying in %ld ms", method, az_rid_name(path),
			 err->code[0] ? err->code : "", err->code[0] ? " " : "", err->message,
			 wait);
		if (!cloud_sleep_ms(c->hooks, wait)) {
			err->aborted = true;
			mg_err_set(e, "aborted");
			goto out;
		}
	}
	mg_err_set(e, "%s %s: %s%s%s", method, az_rid_name(path), err->code,
		   err->code[0] ? ": " : "", err->message);
out:
	OPENSSL_cleanse(auth, sizeof(auth));
	return rc;
}

int az_arm_get(struct az_arm *c, const char *path, char **out, size_t *out_len, struct az_err *err,
	       mg_err *e)
{
	struct az_resp r = {0};

	*out = NULL;
	if (call(c, "GET", path, NULL, NULL, &r, err, e)) {
		mg_buf_free(&r.body);
		return -1;
	}
	*out_len = r.body.len;
	*out = mg_buf_take(&r.body);
	if (!*out)
		return mg_err_set(e, "out of memory");
	return 0;
}

/* Follow an operation: Azure-AsyncOperation (status JSON), else Location (202 = running). */
static int follow(struct az_arm *c, const struct az_resp *first, struct az_err *err, mg_err *e)
{
	char url[AZ_URL_MAX];
	bool async = first->async_op[0] != 0;
	long wait = first->retry_after_s >= 0 ? first->retry_after_s * 1000L : 1000;
	struct timespec t0, now;
	struct az_resp r = {0};
	int rc = -1;

	snprintf(url, sizeof(url), "%s", async ? first->async_op : first->location);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (wait > c->retry_after_cap_ms)
			wait = c->retry_after_cap_ms;
		if (wait < 100)
			wait = 100;
		if (!cloud_sleep_ms(c->hooks, wait)) {
			err->aborted = true;
			mg_err_set(e, "aborted while waiting for the operation");
			break;
		}
		if (call(c, "GET", url, NULL, NULL, &r, err, e)) {
			mg_err_prefix(e, "following the operation");
			break;
		}
		wait = r.retry_after_s >= 0 ? r.retry_after_s * 1000L : 2000;
		if (async) {
			enum az_lro st;
			if (az_parse_lro(r.body.p, r.body.len, &st, err->code, sizeof(err->code),
					 err->message, sizeof(err->message), e))
				break;
			if (st == AZ_LRO_SUCCEEDED) {
				rc = 0;
				break;
			}
			if (st == AZ_LRO_FAILED) {
				err->lro = true;
				mg_err_set(e, "the operation failed: %s: %s", err->code,
					   err->message);
				break;
			}
		} else if (r.status != 202) {
			rc = 0; /* 200/204: done */
			break;
		} else if (r.location[0]) {
			snprintf(url, sizeof(url), "%s", r.location);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000L > c->lro_max_ms) {
			err->status = 0;
			snprintf(err->message, sizeof(err->message), "still running");
			mg_err_set(e, "the operation is still running after %ld s",
				   c->lro_max_ms / 1000);
			break;
		}
	}
	mg_buf_free(&r.body);
	return rc;
}

int az_arm_write(struct az_arm *c, const char *method, const char *path, const char *body,
		 const char *cond, struct az_err *err, mg_err *e)
{
	struct az_resp r = {0};
	bool del = !strcmp(method, "DELETE");
	int rc;

	rc = call(c, method, path, body, cond, &r, err, e);
	if (rc) {
		if (del && (err->status == 404)) {
			memset(err, 0, sizeof(*err));
			mg_err_clear(e);
			rc = 0;
		}
		goto out;
	}
	if (r.status == 204 || (!r.async_op[0] && !r.location[0]))
		goto out; /* done at once */
	rc = follow(c, &r, err, e);
out:
	mg_buf_free(&r.body);
	return rc;
}

const char *az_role_for(const char *action)
{
	/* every action the driver needs (azure_perms.c) is in Network Contributor, apart
	 * from reading the VM or the scale-set instance and its NIC (Microsoft.Compute:
	 * Reader, or Virtual Machine Contributor); the custom role of
	 * cloud/azure/meshgate.arm.json holds exactly that list */
	if (!strncasecmp(action, "Microsoft.Compute/", 18))
		return "Reader";
	return "Network Contributor";
}

enum cloud_err_kind az_err_kind(const struct az_err *err, char *perm, size_t perm_len)
{
	const char *c = err->code;

	perm[0] = '\0';
	if (err->aborted)
		return CLOUD_ERR_ABORTED;
	if (!strcmp(c, "AuthorizationFailed") || !strcmp(c, "LinkedAuthorizationFailed")) {
		az_denied_action(err->message, perm, perm_len);
		return CLOUD_ERR_UNAUTHORIZED;
	}
	if (err->status == 401 || !strcmp(c, "AuthenticationFailed") ||
	    !strncmp(c, "InvalidAuthenticationToken", 26) ||
	    !strcmp(c, "ExpiredAuthenticationToken"))
		return CLOUD_ERR_UNAUTHORIZED;
	if (err->status == 429 || !strcmp(c, "SubscriptionRequestsThrottled") ||
	    !strcmp(c, "TooManyRequests"))
		return CLOUD_ERR_THROTTLED;
	if (strcasestr(c, "MoreThan") || strcasestr(c, "LimitReached") ||
	    strcasestr(c, "QuotaExceeded") || strcasestr(err->message, "cannot have more than"))
		return CLOUD_ERR_LIMIT;
	if (err->status == 412 || !strcmp(c, "PreconditionFailed") ||
	    !strcmp(c, "InvalidRouteTableDuplicateAddressPrefix"))
		return CLOUD_ERR_PRECONDITION;
	if (err->status == 404 || strstr(c, "NotFound"))
		return CLOUD_ERR_NOT_FOUND;
	if (!strcmp(c, "AnotherOperationInProgress") ||
	    !strcmp(c, "RetryableErrorDueToAnotherOperation"))
		return CLOUD_ERR_TRANSIENT;
	if (err->status == 409)
		return CLOUD_ERR_CONFLICT;
	if (err->status == 0 || err->status >= 500 || err->lro)
		return CLOUD_ERR_TRANSIENT;
	return CLOUD_ERR_FATAL;
}
