/* SPDX-License-Identifier: MIT */
/* The GCP driver's parsers against recorded bodies (tests/data/gcp), hostile ones included,
 * and its pure helpers (route names, markers, insert bodies). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcp.h"
#include "gcp_json.h"
#include "gcp_meta.h"

#define DATA MG_TESTDATA_DIR "/gcp/"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), DATA "%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_token(void **state)
{
	char tok[GCP_TOKEN_LEN];
	long exp = 0;
	mg_err e = {""};
	size_t n;
	char *b;

	(void)state;
	b = slurp("metadata_token.json", &n);
	assert_int_equal(gcp_parse_token(b, n, tok, sizeof(tok), &exp, &e), 0);
	assert_string_equal(tok, "ya29.c.c0AY_VpZg-EXAMPLE-not-a-real-token_2Qx7kT9mNw");
	assert_int_equal(exp, 3599);
	free(b);
	static const char *const bad[] = {
	    "hostile_token_escapes.json", "wrong_token_no_expiry.json",
	    "wrong_token_type.json",      "malformed_truncated.json",
	    "html_error_502.html",        "hostile_deep_nesting.json"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = slurp(bad[i], &n);
		e.msg[0] = '\0';
		if (gcp_parse_token(b, n, tok, sizeof(tok), &exp, &e) != -1)
			fail_msg("%s accepted", bad[i]);
		assert_string_equal(tok, "");
		assert_true(e.msg[0]);
		free(b);
	}
	/* refresh 5 minutes ahead, or at half the lifetime of a short token */
	assert_int_equal(gcp_token_refresh_at(1000, 3599), 1000 + 3599 - 300);
	assert_int_equal(gcp_token_refresh_at(1000, 60), 1000 + 30);
}

static void test_md_instance(void **state)
{
	struct gcp_md_instance md;
	mg_err e = {""};
	size_t n;
	char *b;

	(void)state;
	b = slurp("metadata_instance_recursive.json", &n);
	assert_int_equal(gcp_parse_md_instance(b, n, &md, &e), 0);
	assert_string_equal(md.name, "mg-conn-1");
	assert_string_equal(md.zone, "us-central1-a");
	assert_string_equal(md.network, "mg-vpc");
	assert_string_equal(md.ip, "198.18.1.10");
	assert_string_equal(md.mac, "42:01:c6:12:01:0a");
	assert_string_equal(md.netmask, "255.255.255.0");
	assert_true(md.has_sa);
	assert_true(md.compute_scope);
	/* no compute scope: detected */
	char *nos = strstr(b, "/auth/cloud-platform");
	assert_non_null(nos);
	memcpy(nos, "/auth/devstorage.rw", strlen("/auth/devstorage.rw"));
	memset(nos + strlen("/auth/devstorage.rw"), 'x',
	       strlen("/auth/cloud-platform") - strlen("/auth/devstorage.rw"));
	assert_int_equal(gcp_parse_md_instance(b, n, &md, &e), 0);
	assert_false(md.compute_scope);
	free(b);
	b = slurp("hostile_metadata_id_overflow.json", &n);
	assert_int_equal(gcp_parse_md_instance(b, n, &md, &e), -1);
	assert_contains(e.msg, "uint64");
	free(b);
	b = slurp("hostile_deep_nesting.json", &n);
	assert_int_equal(gcp_parse_md_instance(b, n, &md, &e), -1);
	free(b);
}

static void test_instance(void **state)
{
	mg_err e = {""};
	bool on = false;
	size_t n;
	char *b;

	(void)state;
	b = slurp("instance.json", &n);
	assert_int_equal(gcp_parse_instance(b, n, &on, &e), 0);
	assert_true(on);
	free(b);
	b = slurp("instance_no_forward.json", &n);
	on = true;
	assert_int_equal(gcp_parse_instance(b, n, &on, &e), 0);
	assert_false(on);
	free(b);
	b = slurp("route.json", &n); /* not an instance */
	assert_int_equal(gcp_parse_instance(b, n, &on, &e), -1);
	free(b);
}

static void test_routes(void **state)
{
	struct gcp_route_list l = {0};
	char next[512];
	mg_err e = {""};
	size_t n, sub = 0, gw = 0, inst = 0;
	char *b;

	(void)state;
	b = slurp("routes_list_page1.json", &n);
	assert_int_equal(gcp_parse_routes_page(b, n, &l, next, sizeof(next), &e), 0);
	free(b);
	assert_true(next[0]);
	b = slurp("routes_list_page2.json", &n);
	assert_int_equal(gcp_parse_routes_page(b, n, &l, next, sizeof(next), &e), 0);
	free(b);
	assert_string_equal(next, "");
	assert_true(l.n >= 3);
	for (size_t i = 0; i < l.n; i++) {
		const struct gcp_route *g = &l.v[i];
		assert_string_equal(g->network, "mg-vpc");
		if (!strcmp(g->r.origin, "system"))
			sub++;
		if (g->r.target_kind == CLOUD_TARGET_GATEWAY)
			gw++;
		if (g->r.target_kind == CLOUD_TARGET_INSTANCE) {
			inst++;
			assert_true(!strncmp(g->r.target_id, "projects/", 9));
		}
	}
	assert_true(sub >= 2);
	assert_true(gw >= 1);
	gcp_route_list_free(&l);
	b = slurp("routes_list_empty.json", &n);
	assert_int_equal(gcp_parse_routes_page(b, n, &l, next, sizeof(next), &e), 0);
	assert_int_equal(l.n, 0);
	free(b);
	static const char *const bad[] = {"wrong_routes_items_object.json",
					  "malformed_truncated.json", "html_error_502.html",
					  "hostile_deep_nesting.json", "operation_done.json"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = slurp(bad[i], &n);
		if (gcp_parse_routes_page(b, n, &l, next, sizeof(next), &e) != -1)
			fail_msg("%s accepted", bad[i]);
		free(b);
	}
	gcp_route_list_free(&l);
	(void)inst;
}

static void test_operation(void **state)
{
	struct gcp_op op;
	mg_err e = {""};
	size_t n;
	char *b;

	(void)state;
	b = slurp("operation_pending.json", &n);
	assert_int_equal(gcp_parse_operation(b, n, &op, &e), 0);
	assert_int_equal(op.status, GCP_OP_PENDING);
	free(b);
	b = slurp("operation_running.json", &n);
	assert_int_equal(gcp_parse_operation(b, n, &op, &e), 0);
	assert_int_equal(op.status, GCP_OP_RUNNING);
	free(b);
	b = slurp("operation_done.json", &n);
	assert_int_equal(gcp_parse_operation(b, n, &op, &e), 0);
	assert_int_equal(op.status, GCP_OP_DONE);
	assert_false(op.failed);
	assert_int_equal(gcp_op_err_kind(&op), CLOUD_OK);
	free(b);
	b = slurp("operation_done_error.json", &n);
	assert_int_equal(gcp_parse_operation(b, n, &op, &e), 0);
	assert_true(op.failed);
	assert_string_equal(op.err_code, "RESOURCE_NOT_FOUND");
	assert_int_equal(op.http_status, 404);
	assert_int_equal(gcp_op_err_kind(&op), CLOUD_ERR_NOT_FOUND);
	free(b);
	b = slurp("operation_done_quota.json", &n);
	assert_int_equal(gcp_parse_operation(b, n, &op, &e), 0);
	assert_int_equal(gcp_op_err_kind(&op), CLOUD_ERR_LIMIT);
	free(b);
	static const char *const bad[] = {"wrong_operation_status.json",
					  "wrong_operation_types.json", "malformed_truncated.json",
					  "route.json", "html_error_502.html"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = slurp(bad[i], &n);
		if (gcp_parse_operation(b, n, &op, &e) != -1)
			fail_msg("%s accepted", bad[i]);
		free(b);
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *file;
		long status;
		enum cloud_err_kind kind;
		bool retryable;
		const char *perm, *quota;
	} cases[] = {
	    {"error_400_invalid.json", 400, CLOUD_ERR_FATAL, false, "", ""},
	    {"error_401_expired.json", 401, CLOUD_ERR_UNAUTHORIZED, false, "", ""},
	    {"error_403_forbidden.json", 403, CLOUD_ERR_UNAUTHORIZED, false,
	     "compute.routes.create", ""},
	    {"error_403_quota.json", 403, CLOUD_ERR_LIMIT, false, "", "ROUTES"},
	    {"error_403_rate_limit.json", 403, CLOUD_ERR_THROTTLED, true, "", ""},
	    {"error_403_user_rate_limit.json", 403, CLOUD_ERR_THROTTLED, true, "", ""},
	    {"error_403_scope.json", 403, CLOUD_ERR_UNAUTHORIZED, false, "", ""},
	    {"error_404_not_found.json", 404, CLOUD_ERR_NOT_FOUND, false, "", ""},
	    {"error_409_already_exists.json", 409, CLOUD_ERR_CONFLICT, false, "", ""},
	    {"error_429_rate_limit.json", 429, CLOUD_ERR_THROTTLED, true, "", ""},
	    {"error_500_backend.json", 500, CLOUD_ERR_TRANSIENT, true, "", ""},
	    {"error_503_unavailable.json", 503, CLOUD_ERR_TRANSIENT, true, "", ""},
	    {"html_error_502.html", 502, CLOUD_ERR_TRANSIENT, true, "", ""},
	    {"hostile_deep_nesting.json", 400, CLOUD_ERR_FATAL, false, "", ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gcp_error err;
		size_t n;
		char *b = slurp(cases[i].file, &n);
		gcp_parse_error(b, n, cases[i].status, &err);
		free(b);
		if (gcp_err_kind(&err) != cases[i].kind || err.retryable != cases[i].retryable)
			fail_msg("%s: kind %d retryable %d", cases[i].file, gcp_err_kind(&err),
				 err.retryable);
		assert_string_equal(err.permission, cases[i].perm);
		assert_string_equal(err.quota, cases[i].quota);
		assert_int_equal(err.auth, cases[i].status == 401);
	}
	struct gcp_error err;
	gcp_parse_error(NULL, 0, 0, &err); /* no answer at all */
	assert_true(err.retryable);
}

static void test_names(void **state)
{
	struct cidr d;
	struct cloud_mesh_id m, me = {"net-1", "conn-1"};
	char a[GCP_NAME_LEN], b[GCP_NAME_LEN];
	mg_err e = {""};

	(void)state;
	assert_int_equal(cidr_parse("192.0.2.0/24", &d, 0, &e), 0);
	gcp_route_name("net-1", &d, "projects/p/zones/z/instances/a", 0, a);
	gcp_route_name("net-1", &d, "projects/p/zones/z/instances/b", 0, b);
	assert_int_equal(strlen(a), 27);
	assert_true(!strncmp(a, "mg-", 3));
	assert_int_equal(strspn(a + 3, "0123456789abcdef"), 24);
	assert_string_not_equal(a, b); /* another next hop, another name: insert before delete */
	gcp_route_name("net-1", &d, "projects/p/zones/z/instances/a", 1, b);
	assert_string_not_equal(a, b);
	gcp_route_name("net-1", &d, "projects/p/zones/z/instances/a", 0, b);
	assert_string_equal(a, b); /* stable */

	assert_int_equal(gcp_marker_parse(a, "meshgate:net-1:conn-1", &m), 0);
	assert_string_equal(m.network, "net-1");
	assert_string_equal(m.connector, "conn-1");
	assert_int_equal(gcp_marker_parse("other", "meshgate:net-1:conn-1", &m), -1);
	assert_int_equal(gcp_marker_parse(a, "someone's route", &m), -1);
	assert_int_equal(gcp_marker_parse(a, "meshgate:net-1", &m), -1);
	assert_int_equal(gcp_marker_parse(a, "meshgate::x", &m), -1);

	char *body = gcp_route_body(a, "proj", "mg-vpc", &d, 900,
				    "projects/proj/zones/z/instances/a", &me, "meshgate,gw", &e);
	assert_non_null(body);
	assert_contains(body, "\"destRange\":\"192.0.2.0/24\"");
	assert_contains(body, "\"priority\":900");
	assert_contains(body, "\"description\":\"meshgate:net-1:conn-1\"");
	assert_contains(body, "\"nextHopInstance\":\"https://www.googleapis.com/compute/v1/"
			      "projects/proj/zones/z/instances/a\"");
	assert_contains(body, "networks/mg-vpc\"");
	assert_contains(body, "\"tags\":[\"meshgate\",\"gw\"]");
	cJSON_free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token),     cmocka_unit_test(test_md_instance),
	    cmocka_unit_test(test_instance),  cmocka_unit_test(test_routes),
	    cmocka_unit_test(test_operation), cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
