/* SPDX-License-Identifier: MIT */
/* The Azure IMDS and ARM clients against a small scripted local server (libmicrohttpd,
 * plain HTTP): Metadata header and retries of IMDS, ARM retries (429 with Retry-After,
 * AnotherOperationInProgress), one token refresh on ExpiredAuthenticationToken, LROs
 * through Azure-AsyncOperation and Location, idempotent deletes, errors that are not
 * retried, URLs on other hosts not followed, and fencing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "azure_arm.h"
#include "azure_imds.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

struct answer {
	unsigned status;
	const char *body;
	const char *hname, *hval; /* one extra header, "%d" = the port */
	const char *h2name, *h2val;
};

#define MAXQ 16
static struct {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	struct answer q[MAXQ];
	size_t nq, next;
	int requests;
	char log[MAXQ * 2][160];     /* "METHOD url" */
	char auth[MAXQ * 2][64];     /* Authorization, cut */
	char cond[MAXQ * 2][64];     /* If-Match / If-None-Match */
	char metadata[MAXQ * 2][16]; /* Metadata header */
} S;

static void script(const struct answer *a, size_t n)
{
	pthread_mutex_lock(&S.mu);
	memcpy(S.q, a, n * sizeof(*a));
	S.nq = n;
	S.next = 0;
	S.requests = 0;
	memset(S.log, 0, sizeof(S.log));
	pthread_mutex_unlock(&S.mu);
}

/* The template with "%d" replaced by the server's port. */
static void expand(char *out, size_t len, const char *tmpl)
{
	const char *d = strstr(tmpl, "%d");

	if (!d)
		snprintf(out, len, "%s", tmpl);
	else
		snprintf(out, len, "%.*s%d%s", (int)(d - tmpl), tmpl, S.port, d + 2);
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **ptr)
{
	static const struct answer none = {500, "{\"error\":{\"code\":\"Script\",\"message\":"
						"\"no more answers\"}}"};
	const struct answer *a;
	const char *v;
	char hv[256];
	int i;

	(void)cls, (void)version, (void)upload;
	if (!*ptr) {
		*ptr = &S;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&S.mu);
	i = S.requests++;
	a = S.next < S.nq ? &S.q[S.next++] : &none;
	if (i < MAXQ * 2) {
		snprintf(S.log[i], sizeof(S.log[i]), "%s %s", method, url);
		v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		snprintf(S.auth[i], sizeof(S.auth[i]), "%s", v ? v : "");
		v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Match");
		if (!v)
			v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
		snprintf(S.cond[i], sizeof(S.cond[i]), "%s", v ? v : "");
		v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Metadata");
		snprintf(S.metadata[i], sizeof(S.metadata[i]), "%s", v ? v : "");
		v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "client_id");
		if (v)
			snprintf(S.log[i] + strlen(S.log[i]), sizeof(S.log[i]) - strlen(S.log[i]),
				 " client_id=%s", v);
	}
	pthread_mutex_unlock(&S.mu);
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(a->body), (void *)a->body,
								 MHD_RESPMEM_MUST_COPY);
	if (a->hname) {
		expand(hv, sizeof(hv), a->hval);
		MHD_add_response_header(r, a->hname, hv);
	}
	if (a->h2name) {
		expand(hv, sizeof(hv), a->h2val);
		MHD_add_response_header(r, a->h2name, hv);
	}
	enum MHD_Result ret = MHD_queue_response(c, a->status, r);
	MHD_destroy_response(r);
	return ret;
}

static int setup(void **state)
{
	(void)state;
	pthread_mutex_init(&S.mu, NULL);
	S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_req, NULL,
			       MHD_OPTION_END);
	if (!S.d)
		return -1;
	S.port = MHD_get_daemon_info(S.d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(S.d);
	return 0;
}

/* ---- ARM ---- */
static int refreshes, forced;
static bool writes_allowed = true;

static int token_fn(void *ud, bool force, char *hdr, size_t len, mg_err *e)
{
	(void)ud, (void)e;
	refreshes++;
	if (force)
		forced++;
	snprintf(hdr, len, "Authorization: Bearer tok%d", forced);
	return 0;
}

static bool may_write(void *ud)
{
	(void)ud;
	return writes_allowed;
}

static struct cloud_hooks hooks = {NULL, may_write, NULL};

static void arm(struct az_arm *c)
{
	mg_err e = {""};

	assert_int_equal(
	    az_arm_init(c, "https://management.azure.com", "", token_fn, NULL, &hooks, &e), 0);
	snprintf(c->base, sizeof(c->base), "http://127.0.0.1:%d", S.port);
	c->protocols = "http";
	c->backoff_base_ms = 10;
	c->backoff_cap_ms = 20;
	c->timeout_ms = 3000;
	refreshes = forced = 0;
	writes_allowed = true;
}

#define ERRB(code) "{\"error\":{\"code\":\"" code "\",\"message\":\"m\"}}"

static void test_get_retries(void **state)
{
	static const struct answer a[] = {
	    {429, ERRB("SubscriptionRequestsThrottled"), "Retry-After", "0"},
	    {409, ERRB("AnotherOperationInProgress")},
	    {503, "<html>busy</html>"},
	    {200, "{\"ok\":true}"},
	};
	struct az_arm c;
	struct az_err err;
	mg_err e = {""};
	char *out;
	size_t len;

	(void)state;
	arm(&c);
	script(a, 4);
	assert_int_equal(az_arm_get(&c, "/subscriptions/s/x?api-version=1", &out, &len, &err, &e),
			 0);
	assert_string_equal(out, "{\"ok\":true}");
	free(out);
	assert_int_equal(S.requests, 4);
	assert_string_equal(S.log[3], "GET /subscriptions/s/x");
	assert_string_equal(S.auth[3], "Bearer tok0");

	/* not retried: a 400, a 403 */
	static const struct answer bad[] = {{400, ERRB("MissingApiVersionParameter")}};
	script(bad, 1);
	assert_int_equal(az_arm_get(&c, "/subscriptions/s/x", &out, &len, &err, &e), -1);
	assert_int_equal(S.requests, 1);
	assert_string_equal(err.code, "MissingApiVersionParameter");
	assert_contains(e.msg, "MissingApiVersionParameter");

	/* retries end */
	static const struct answer busy[] = {
	    {500, ERRB("InternalServerError")},
	    {500, ERRB("InternalServerError")},
	    {500, ERRB("InternalServerError")},
	};
	c.max_attempts = 3;
	script(busy, 3);
	assert_int_equal(az_arm_get(&c, "/subscriptions/s/x", &out, &len, &err, &e), -1);
	assert_int_equal(S.requests, 3);
	assert_int_equal(err.status, 500);
	char perm[96];
	assert_int_equal(az_err_kind(&err, perm, sizeof(perm)), CLOUD_ERR_TRANSIENT);
}

static void test_token_refresh(void **state)
{
	static const struct answer a[] = {
	    {401, ERRB("ExpiredAuthenticationToken")},
	    {200, "{}"},
	};
	static const struct answer twice[] = {
	    {401, ERRB("ExpiredAuthenticationToken")},
	    {401, ERRB("ExpiredAuthenticationToken")},
	};
	struct az_arm c;
	struct az_err err;
	mg_err e = {""};
	char *out;
	size_t len;

	(void)state;
	arm(&c);
	script(a, 2);
	assert_int_equal(az_arm_get(&c, "/subscriptions/s/x", &out, &len, &err, &e), 0);
	free(out);
	assert_int_equal(forced, 1);
	assert_string_equal(S.auth[0], "Bearer tok0");
	assert_string_equal(S.auth[1], "Bearer tok1");
	/* once only */
	script(twice, 2);
	assert_int_equal(az_arm_get(&c, "/subscriptions/s/x", &out, &len, &err, &e), -1);
	assert_int_equal(S.requests, 2);
	char perm[96];
	assert_int_equal(az_err_kind(&err, perm, sizeof(perm)), CLOUD_ERR_UNAUTHORIZED);
}

static void test_lro(void **state)
{
	static const struct answer async_ok[] = {
	    {201, "{}", "Azure-AsyncOperation", "http://127.0.0.1:%d/subscriptions/s/op/1",
	     "Retry-After", "0"},
	    {200, "{\"status\":\"InProgress\"}", "Retry-After", "0"},
	    {200, "{\"status\":\"Succeeded\"}"},
	};
	static const struct answer async_fail[] = {
	    {200, "{}", "Azure-AsyncOperation", "http://127.0.0.1:%d/subscriptions/s/op/2",
	     "Retry-After", "0"},
	    {200, "{\"status\":\"Failed\",\"error\":{\"code\":\"InternalServerError\","
		  "\"message\":\"boom\"}}"},
	};
	static const struct answer location[] = {
	    {202, "", "Location", "http://127.0.0.1:%d/subscriptions/s/res/3", "Retry-After", "0"},
	    {202, "", "Retry-After", "0"},
	    {204, ""},
	};
	static const struct answer elsewhere[] = {
	    {201, "{}", "Azure-AsyncOperation", "http://evil.example:%d/op/4", "Retry-After", "0"},
	};
	static const struct answer gone[] = {{404, ERRB("NotFound")}};
	static const struct answer nocontent[] = {{204, ""}};
	static const struct answer limit[] = {
	    {400, ERRB("RouteTableCannotHaveMoreThan400Routes")},
	};
	static const struct answer denied[] = {
	    {403, "{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"The client 'x' "
		  "does not have authorization to perform action 'Microsoft.Network/"
		  "routeTables/routes/write' over scope '/s'.\"}}"},
	};
	static const struct answer pre[] = {{412, ERRB("PreconditionFailed")}};
	struct az_arm c;
	struct az_err err;
	mg_err e = {""};
	char perm[96];

	(void)state;
	arm(&c);
	script(async_ok, 3);
	assert_int_equal(az_arm_write(&c, "PUT", "/subscriptions/s/r?api-version=1", "{}",
				      "If-None-Match: *", &err, &e),
			 0);
	assert_int_equal(S.requests, 3);
	assert_string_equal(S.log[0], "PUT /subscriptions/s/r");
	assert_string_equal(S.cond[0], "*");
	assert_string_equal(S.log[2], "GET /subscriptions/s/op/1");

	script(async_fail, 2);
	assert_int_equal(az_arm_write(&c, "PUT", "/subscriptions/s/r", "{}", NULL, &err, &e), -1);
	assert_true(err.lro);
	assert_string_equal(err.code, "InternalServerError");
	assert_contains(e.msg, "boom");
	assert_int_equal(az_err_kind(&err, perm, sizeof(perm)), CLOUD_ERR_TRANSIENT);

	script(location, 3);
	assert_int_equal(
	    az_arm_write(&c, "DELETE", "/subscriptions/s/r", NULL, "If-Match: W/\"1\"", &err, &e),
	    0);
	assert_int_equal(S.requests, 3);
	assert_string_equal(S.cond[0], "W/\"1\"");
	assert_string_equal(S.log[1], "GET /subscriptions/s/res/3");

	script(elsewhere, 1);
	assert_int_equal(az_arm_write(&c, "PUT", "/subscriptions/s/r", "{}", NULL, &err, &e), -1);
	assert_contains(e.msg, "another host");
	assert_int_equal(S.requests, 1);

	script(gone, 1);
	assert_int_equal(az_arm_write(&c, "DELETE", "/subscriptions/s/r", NULL, NULL, &err, &e), 0);
	script(nocontent, 1);
	assert_int_equal(az_arm_write(&c, "DELETE", "/subscriptions/s/r", NULL, NULL, &err, &e), 0);
	/* a PUT 404 is an error */
	script(gone, 1);
	assert_int_equal(az_arm_write(&c, "PUT", "/subscriptions/s/r", "{}", NULL, &err, &e), -1);
	assert_int_equal(az_err_kind(&err, perm, sizeof(perm)), CLOUD_ERR_NOT_FOUND);

	script(limit, 1);
	assert_int_equal(az_arm_write(&c, "PUT", "/subscriptions/s/r", "{}", NULL, &err, &e), -1);
	assert_int_equal(S.requests, 1); /* not retried */
	assert_int_equal(az_err_kind(&err, perm, sizeof(perm)), CLOUD_ERR_LIMIT);

	script(denied, 1);
	assert_int_equal(az_arm_write(&c, "PUT", "/subscriptions/s/r", "{}", NULL, &err, &e), -1);
	assert_int_equal(az_err_kind(&err, perm, sizeof(perm)), CLOUD_ERR_UNAUTHORIZED);
	assert_string_equal(perm, "Microsoft.Network/routeTables/routes/write");
	assert_string_equal(az_role_for(perm), "Network Contributor");

	script(pre, 1);
	assert_int_equal(
	    az_arm_write(&c, "PUT", "/subscriptions/s/r", "{}", "If-Match: x", &err, &e), -1);
	assert_int_equal(az_err_kind(&err, perm, sizeof(perm)), CLOUD_ERR_PRECONDITION);

	/* fenced: nothing is sent */
	writes_allowed = false;
	script(nocontent, 1);
	assert_int_equal(az_arm_write(&c, "DELETE", "/subscriptions/s/r", NULL, NULL, &err, &e),
			 -1);
	assert_true(err.aborted);
	assert_int_equal(S.requests, 0);
	assert_int_equal(az_err_kind(&err, perm, sizeof(perm)), CLOUD_ERR_ABORTED);
}

/* ---- IMDS ---- */
static void test_imds(void **state)
{
	static const char tok[] = "{\"access_token\":\"abc.def\",\"expires_on\":\"1796264615\","
				  "\"expires_in\":\"3599\",\"token_type\":\"Bearer\"}";
	static const struct answer a[] = {
	    {410, "{}"},
	    {429, "{}"},
	    {200, tok},
	};
	static const struct answer nf[] = {
	    {400, "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}"},
	};
	struct az_imds m;
	struct az_token *t = malloc(sizeof(*t));
	struct cloud_hooks h = {0};
	char base[64];
	mg_err e = {""};

	(void)state;
	assert_non_null(t);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", S.port);
	assert_int_equal(az_imds_init(&m, base, "3c5b7a91-2d4e-4f60-8a1b-9c0d1e2f3a4b", &h, &e), 0);
	m.backoff_ms = 10;
	script(a, 3);
	assert_int_equal(az_imds_token(&m, t, &e), 0);
	assert_string_equal(t->access_token, "abc.def");
	assert_int_equal(S.requests, 3);
	assert_string_equal(S.metadata[2], "true");
	assert_string_equal(S.log[2], "GET /metadata/identity/oauth2/token "
				      "client_id=3c5b7a91-2d4e-4f60-8a1b-9c0d1e2f3a4b");
	/* a 400 is not retried and says what to do */
	script(nf, 1);
	assert_int_equal(az_imds_token(&m, t, &e), -1);
	assert_int_equal(S.requests, 1);
	assert_contains(e.msg, "Identity not found");
	assert_contains(e.msg, "--cloud-azure-client-id");
	assert_int_equal(az_imds_init(&m, base, "not a guid", &h, &e), -1);
	assert_int_equal(az_imds_init(&m, "ftp://x", NULL, &h, &e), -1);
	/* the probe: one attempt */
	script(nf, 1);
	assert_int_equal(az_imds_probe(base, 1000), 0);
	assert_int_equal(az_imds_probe("http://127.0.0.1:9", 300), 0);
	free(t);
}

static void write_dmi(const char *dir, const char *name, const char *val)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/class/dmi/id/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", val);
	fclose(f);
}

/* DMI says Azure: the IMDS instance document is probed (with Metadata: true). */
static void test_detect(void **state)
{
	static const struct answer ok[] = {{200, "{\"compute\":{}}"}};
	static const struct answer no[] = {{400, "{\"error\":\"Bad request\"}"}};
	static const struct answer notaws_ok[] = {{405, ""}, {200, "{}"}};
	char root[] = "/tmp/mg-azdmi-XXXXXX", p[512];
	struct cloud_endpoints ep = {0};
	mg_err why = {""};

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/class", root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/class/dmi", root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/class/dmi/id", root);
	assert_int_equal(mkdir(p, 0700), 0);
	write_dmi(root, "sys_vendor", "Microsoft Corporation");
	write_dmi(root, "product_name", "Virtual Machine");
	snprintf(ep.metadata, sizeof(ep.metadata), "http://127.0.0.1:%d", S.port);
	script(ok, 1);
	assert_ptr_equal(cloud_detect(root, &ep, 1000, &why), &cloud_azure_ops);
	assert_string_equal(S.metadata[0], "true");
	assert_string_equal(S.log[0], "GET /metadata/instance");
	script(no, 1);
	assert_null(cloud_detect(root, &ep, 1000, &why));
	assert_contains(why.msg, "DMI says Azure");
	/* no hint, a configured endpoint: AWS's probe first, then Azure's */
	write_dmi(root, "sys_vendor", "LENOVO");
	write_dmi(root, "product_name", "ThinkPad");
	script(notaws_ok, 2);
	assert_ptr_equal(cloud_detect(root, &ep, 1000, &why), &cloud_azure_ops);
	assert_string_equal(S.log[0], "PUT /latest/api/token");
	for (const char *f = "sys_vendor"; f; f = strcmp(f, "sys_vendor") ? NULL : "product_name") {
		snprintf(p, sizeof(p), "%s/class/dmi/id/%s", root, f);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/class/dmi/id", root);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/class/dmi", root);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/class", root);
	rmdir(p);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_retries), cmocka_unit_test(test_token_refresh),
	    cmocka_unit_test(test_lro),         cmocka_unit_test(test_imds),
	    cmocka_unit_test(test_detect),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
