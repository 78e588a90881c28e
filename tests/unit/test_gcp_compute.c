/* SPDX-License-Identifier: MIT */
/* The GCP Compute client's retry paths against a scripted in-process server (the client's
 * transport hook): 429, 5xx, 403 rate limits and lost answers retried with the same URL
 * (an insert keeps its requestId), one token refresh on 401, errors that are not retried,
 * the attempt limit, paging, Operations waited for (operations.wait, the poll fallback when
 * wait is missing, an Operation that ends in an error), idempotent deletes, and an abort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcp_compute.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

struct answer {
	long status; /* 0: no answer (a lost connection) */
	const char *body;
};

#define MAXQ 16
static struct {
	const struct answer *q;
	size_t nq, next;
	int n;                /* requests received */
	char log[MAXQ][600];  /* "METHOD url-after-project" */
	char auth[MAXQ][32];  /* the bearer token sent */
	bool body[MAXQ];      /* a body was sent */
	int tokens, refreshs; /* token() calls, forced ones */
	bool abort_now;
} S;

static void script(const struct answer *a, size_t n)
{
	memset(&S, 0, sizeof(S));
	S.q = a;
	S.nq = n;
}

#define BASE "https://compute.googleapis.com/compute/v1/projects/meshgate-test/"

static int transport(void *ud, const struct gcp_http_req *r, struct gcp_http_resp *out, mg_err *e)
{
	const struct answer *a;

	(void)ud;
	memset(out, 0, sizeof(*out));
	assert_true(S.n < MAXQ);
	assert_int_equal(strncmp(r->url, BASE, strlen(BASE)), 0);
	snprintf(S.log[S.n], sizeof(S.log[0]), "%s %s", r->method, r->url + strlen(BASE));
	snprintf(S.auth[S.n], sizeof(S.auth[0]), "%s", r->auth ? r->auth : "");
	S.body[S.n] = r->body != NULL;
	S.n++;
	if (S.next >= S.nq)
		fail_msg("request %d (%s) beyond the script", S.n, S.log[S.n - 1]);
	a = &S.q[S.next++];
	if (!a->status)
		return mg_err_set(e, "%s %s: connection reset", r->method, r->url);
	out->status = a->status;
	out->len = strlen(a->body);
	out->body = strdup(a->body);
	assert_non_null(out->body);
	return 0;
}

static int token(void *ud, bool force, const char **tok, mg_err *e)
{
	(void)ud, (void)e;
	S.tokens++;
	if (force)
		S.refreshs++;
	*tok = S.refreshs ? "tok-new" : "tok-old";
	return 0;
}

static bool aborted(void *ud)
{
	(void)ud;
	return S.abort_now;
}

static const struct cloud_hooks hooks = {aborted, NULL, NULL};

static uint32_t rand0(void)
{
	return 0; /* backoff 0 ms: the script runs at full speed */
}

static void client(struct gcp_compute *c)
{
	mg_err e = {""};

	assert_int_equal(gcp_compute_init(c, "https://compute.googleapis.com/", "meshgate-test",
					  NULL, token, NULL, &e),
			 0);
	c->transport = transport;
	c->rand32 = rand0;
	c->hooks = &hooks;
}

#define ERR(code, reason, msg)                                                                     \
	"{\"error\":{\"code\":" #code ",\"message\":\"" msg "\",\"errors\":[{\"message\":\"" msg   \
	"\",\"domain\":\"global\",\"reason\":\"" reason "\"}]}}"
#define E429   ERR(429, "rateLimitExceeded", "Rate Limit Exceeded")
#define E503   ERR(503, "backendError", "The service is currently unavailable.")
#define E500   ERR(500, "backendError", "Internal error.")
#define E403RL ERR(403, "rateLimitExceeded", "Rate Limit Exceeded")
#define E401   ERR(401, "authError", "Request had invalid authentication credentials.")
#define E404   ERR(404, "notFound", "The resource was not found")
#define E403P                                                                                      \
	ERR(403, "forbidden",                                                                      \
	    "Required 'compute.routes.create' permission for "                                     \
	    "'projects/meshgate-test/global/routes/meshgate-x'")

#define ROUTE(name, dst)                                                                           \
	"{\"kind\":\"compute#route\",\"name\":\"" name "\",\"network\":\"https://www.googleapis."  \
	"com/compute/v1/projects/meshgate-test/global/networks/mg-vpc\",\"destRange\":\"" dst      \
	"\",\"priority\":1000,\"nextHopIp\":\"198.18.1.10\"}"
#define PAGE1                                                                                      \
	"{\"kind\":\"compute#routeList\",\"items\":[" ROUTE(                                       \
	    "r-one", "198.51.100.0/24") "],"                                                       \
					"\"nextPageToken\":\"tok2_A-b\"}"
#define PAGE2 "{\"kind\":\"compute#routeList\",\"items\":[" ROUTE("r-two", "192.0.2.0/24") "]}"

#define OP(status, extra)                                                                          \
	"{\"kind\":\"compute#operation\",\"name\":\"operation-17-ab\",\"status\":\"" status        \
	"\"" extra "}"
#define OP_QUOTA                                                                                   \
	OP("DONE", ",\"error\":{\"errors\":[{\"code\":\"QUOTA_EXCEEDED\",\"message\":\"Quota "     \
		   "'ROUTES' exceeded.  Limit: 250.0 globally.\"}]},\"httpErrorStatusCode\":403")

/* 429, 503, 403 rateLimitExceeded, a lost answer and 500 are retried, the same URL each time;
 * the pages are followed with their token. */
static void test_list_retries(void **state)
{
	static const struct answer a[] = {{429, E429}, {503, E503}, {403, E403RL}, {200, PAGE1},
					  {0, ""},     {500, E500}, {200, PAGE2}};
	struct gcp_compute c;
	struct gcp_route_list l = {0};
	struct gcp_error err;
	mg_err e = {""};

	(void)state;
	client(&c);
	script(a, sizeof(a) / sizeof(a[0]));
	assert_int_equal(gcp_compute_list_routes(&c, &l, &err, &e), 0);
	assert_int_equal(S.n, 7);
	for (int i = 0; i < 4; i++)
		assert_string_equal(S.log[i], "GET global/routes?maxResults=500");
	for (int i = 4; i < 7; i++)
		assert_string_equal(S.log[i],
				    "GET global/routes?maxResults=500&pageToken=tok2_A-b");
	assert_int_equal(l.n, 2);
	assert_int_equal(S.refreshs, 0);
	gcp_route_list_free(&l);
}

/* 401: one forced token refresh, then the call goes on with the new token (not an attempt);
 * a second 401 is an error. */
static void test_token_refresh(void **state)
{
	static const struct answer once[] = {{401, E401}, {503, E503}, {200, PAGE2}};
	static const struct answer twice[] = {{401, E401}, {401, E401}};
	struct gcp_compute c;
	struct gcp_route_list l = {0};
	struct gcp_error err;
	mg_err e = {""};

	(void)state;
	client(&c);
	c.max_attempts = 2; /* the refresh does not count: 401, 503, 200 fits in two */
	script(once, 3);
	assert_int_equal(gcp_compute_list_routes(&c, &l, &err, &e), 0);
	assert_int_equal(S.refreshs, 1);
	assert_string_equal(S.auth[0], "tok-old");
	assert_string_equal(S.auth[1], "tok-new");
	assert_string_equal(S.auth[2], "tok-new");
	gcp_route_list_free(&l);
	script(twice, 2);
	assert_int_equal(gcp_compute_list_routes(&c, &l, &err, &e), -1);
	assert_int_equal(S.n, 2);
	assert_int_equal(err.http_status, 401);
	gcp_route_list_free(&l);
}

/* A permission error is not retried and names the permission; 503 forever stops at the
 * attempt limit. */
static void test_no_retry_and_limit(void **state)
{
	static const struct answer perm[] = {{403, E403P}};
	static const struct answer down[] = {{503, E503}, {503, E503}, {503, E503}};
	struct gcp_compute c;
	struct gcp_error err;
	mg_err e = {""};

	(void)state;
	client(&c);
	script(perm, 1);
	assert_int_equal(gcp_compute_insert_route(&c, "meshgate-x", "{}", &err, &e), -1);
	assert_int_equal(S.n, 1);
	assert_string_equal(err.permission, "compute.routes.create");
	assert_false(err.retryable);
	assert_contains(e.msg, "permission compute.routes.create missing");
	c.max_attempts = 3;
	script(down, 3);
	bool on;
	assert_int_equal(gcp_compute_can_ip_forward(&c, "europe-west1-b", "gw-1", &on, &err, &e),
			 -1);
	assert_int_equal(S.n, 3);
	assert_string_equal(S.log[2], "GET zones/europe-west1-b/instances/gw-1");
	assert_true(err.retryable);
	assert_contains(e.msg, "after 3 attempts");
}

/* An insert retried after 503 and 429 keeps its requestId (the API de-duplicates it); its
 * Operation is waited for with operations.wait until DONE. */
static void test_insert_waits(void **state)
{
	static const struct answer a[] = {
	    {503, E503},           {429, E429}, {200, OP("PENDING", "")}, {200, OP("RUNNING", "")},
	    {503, E503}, /* a wait call is retried like any call */
	    {200, OP("DONE", "")},
	};
	struct gcp_compute c;
	struct gcp_error err;
	char id[40];
	mg_err e = {""};

	(void)state;
	client(&c);
	script(a, sizeof(a) / sizeof(a[0]));
	assert_int_equal(
	    gcp_compute_insert_route(&c, "meshgate-x", "{\"name\":\"meshgate-x\"}", &err, &e), 0);
	assert_int_equal(S.n, 6);
	assert_int_equal(sscanf(S.log[0], "POST global/routes?requestId=%39s", id), 1);
	assert_int_equal(strlen(id), 36);
	assert_string_equal(S.log[0], S.log[1]);
	assert_string_equal(S.log[0], S.log[2]);
	assert_true(S.body[0] && S.body[2]);
	for (int i = 3; i < 6; i++)
		assert_string_equal(S.log[i], "POST global/operations/operation-17-ab/wait");
	/* a second insert gets a new requestId */
	static const struct answer b[] = {{200, OP("DONE", "")}};
	script(b, 1);
	assert_int_equal(gcp_compute_insert_route(&c, "meshgate-y", "{}", &err, &e), 0);
	assert_null(strstr(S.log[0], id));
}

/* No operations.wait (404): the Operation is polled with GET; an Operation that ends with
 * QUOTA_EXCEEDED is an error naming the quota, not retried. */
static void test_poll_fallback_and_op_error(void **state)
{
	static const struct answer a[] = {
	    {200, OP("PENDING", "")},
	    {404, E404},
	    {200, OP("RUNNING", "")},
	    {200, OP_QUOTA},
	};
	struct gcp_compute c;
	struct gcp_error err;
	mg_err e = {""};

	(void)state;
	client(&c);
	script(a, sizeof(a) / sizeof(a[0]));
	assert_int_equal(gcp_compute_insert_route(&c, "meshgate-x", "{}", &err, &e), -1);
	assert_int_equal(S.n, 4);
	assert_string_equal(S.log[1], "POST global/operations/operation-17-ab/wait");
	assert_string_equal(S.log[2], "GET global/operations/operation-17-ab");
	assert_string_equal(S.log[3], "GET global/operations/operation-17-ab");
	assert_string_equal(err.quota, "ROUTES");
	assert_false(err.retryable);
	assert_contains(e.msg, "quota ROUTES exceeded");
}

/* A delete of a route that is not there (404) succeeds; an abort stops before any request. */
static void test_delete_gone_and_abort(void **state)
{
	static const struct answer gone[] = {{500, E500}, {404, E404}};
	struct gcp_compute c;
	struct gcp_route_list l = {0};
	struct gcp_error err;
	mg_err e = {""};

	(void)state;
	client(&c);
	script(gone, 2);
	assert_int_equal(gcp_compute_delete_route(&c, "meshgate-x", &err, &e), 0);
	assert_int_equal(S.n, 2);
	assert_int_equal(strncmp(S.log[1], "DELETE global/routes/meshgate-x?requestId=", 42), 0);
	script(gone, 2);
	S.abort_now = true;
	assert_int_equal(gcp_compute_list_routes(&c, &l, &err, &e), -1);
	assert_true(err.aborted);
	assert_int_equal(S.n, 0);
	gcp_route_list_free(&l);
}

/* Full jitter within [0, min(cap, base * 2^attempt)]. */
static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(gcp_backoff_ms(300, 8000, 0, 0), 0);
	assert_int_equal(gcp_backoff_ms(300, 8000, 0, 300), 300);
	assert_int_equal(gcp_backoff_ms(300, 8000, 0, 301), 0);
	assert_int_equal(gcp_backoff_ms(300, 8000, 2, 1200), 1200);
	assert_int_equal(gcp_backoff_ms(300, 8000, 10, 8000), 8000);
	assert_true(gcp_backoff_ms(300, 8000, 30, UINT32_MAX) <= 8000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_retries),
	    cmocka_unit_test(test_token_refresh),
	    cmocka_unit_test(test_no_retry_and_limit),
	    cmocka_unit_test(test_insert_waits),
	    cmocka_unit_test(test_poll_fallback_and_op_error),
	    cmocka_unit_test(test_delete_gone_and_abort),
	    cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
