/* SPDX-License-Identifier: MIT */
/* EC2 Query API: XML parsers on canned answers (tests/data/aws), and the client's
 * requests, pagination, retries, error mapping and route upsert through a scripted
 * transport (no network, no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_ec2.h"

#define DATA MG_TESTDATA_DIR "/aws/"

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

static struct cidr C(const char *s) {
	struct cidr c;
	mg_err e = {{0}};
	if (cidr_parse(s, &c, 0, &e))
		fail_msg("%s: %s", s, e.msg);
	return c;
}

/* ---------------------------------------------------------------- parsers */

static void
test_route_tables_parse(void **state)
{
	struct cloud_scopes t = {0};
	char next[256];
	size_t len;
	char *x = slurp("describe_route_tables_page1.xml", &len);
	mg_err e = {{0}};

	(void)state;
	if (aws_xml_route_tables(x, len, &t, next, sizeof(next), &e))
		fail_msg("%s", e.msg);
	assert_string_equal(next, "page-2-token");
	assert_int_equal(t.n, 1);
	struct cloud_scope *rt = &t.v[0];
	assert_string_equal(rt->id, "rtb-1122334455667788a");
	assert_string_equal(rt->network_id, "vpc-12345678912345678");
	assert_true(rt->main);
	assert_int_equal(rt->n_routes, 5);
	assert_int_equal(rt->routes[0].target_kind, CLOUD_TARGET_GATEWAY);
	assert_string_equal(rt->routes[0].target_id, "local");
	assert_string_equal(rt->routes[0].origin, "CreateRouteTable");
	/* instance + ENI: the ENI is what counts */
	assert_int_equal(rt->routes[1].target_kind, CLOUD_TARGET_NIC);
	assert_string_equal(rt->routes[1].target_id, "eni-0abc");
	assert_int_equal(rt->routes[1].state, CLOUD_ROUTE_ACTIVE);
	struct cidr d = C("10.8.0.0/24");
	assert_ptr_equal(cloud_scope_find(rt, &d), &rt->routes[1]);
	assert_int_equal(rt->routes[2].dst.family, AF_INET6);
	assert_int_equal(rt->routes[2].state, CLOUD_ROUTE_BLACKHOLE);
	assert_false(rt->routes[3].has_dst); /* prefix list */
	assert_int_equal(rt->routes[4].target_kind, CLOUD_TARGET_OTHER);
	assert_string_equal(rt->routes[4].target_id, "nat-0aa");
	free(x);

	x = slurp("describe_route_tables_page2.xml", &len);
	assert_int_equal(aws_xml_route_tables(x, len, &t, next, sizeof(next), &e), 0);
	assert_string_equal(next, "");
	assert_int_equal(t.n, 2);
	assert_false(t.v[1].main);
	free(x);
	cloud_scopes_free(&t);
}

static void expect_rt_fail(const char *file, size_t cut, const char *needle)
{
	struct cloud_scopes t = {0};
	char next[64];
	size_t len;
	char *x = slurp(file, &len);
	mg_err e = {{0}};

	if (cut)
		len = cut;
	if (aws_xml_route_tables(x, len, &t, next, sizeof(next), &e) == 0)
		fail_msg("%s accepted", file);
	assert_contains(e.msg, needle);
	cloud_scopes_free(&t);
	free(x);
}

static void test_route_tables_bad(void **state)
{
	(void)state;
	expect_rt_fail("malformed_truncated.xml", 0, "malformed XML");
	expect_rt_fail("describe_route_tables_page1.xml", 700, "malformed XML");
	expect_rt_fail("wrong_main.xml", 0, "not true or false");
	expect_rt_fail("wrong_cidr.xml", 0, "route destination");
	expect_rt_fail("wrong_type_id.xml", 0, "should be text");
	expect_rt_fail("wrong_set.xml", 0, "not <item>");
	expect_rt_fail("entity_dtd.xml", 0, "DTD");
	expect_rt_fail("create_route.xml", 0, "where <DescribeRouteTablesResponse>");
	/* a next token longer than the caller's buffer (8 bytes here) */
	{
		struct cloud_scopes t = {0};
		char next[8];
		size_t len;
		char *x = slurp("describe_route_tables_page1.xml", &len);
		mg_err e = {{0}};
		assert_int_equal(aws_xml_route_tables(x, len, &t, next, sizeof(next), &e), -1);
		assert_contains(e.msg, "too long");
		cloud_scopes_free(&t);
		free(x);
	}
}

static void test_oversized(void **state)
{
	size_t n = AWS_XML_MAX + 1;
	char *big = malloc(n);
	struct cloud_scopes t = {0};
	char next[8];
	mg_err e = {{0}};

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	assert_int_equal(aws_xml_route_tables(big, n, &t, next, sizeof(next), &e), -1);
	assert_contains(e.msg, "cap");
	assert_int_equal(aws_xml_route_tables("", 0, &t, next, sizeof(next), &e), -1);
	free(big);
}

static void test_return_and_sdc(void **state)
{
	size_t len;
	char *x;
	bool on = true;
	mg_err e = {{0}};

	(void)state;
	x = slurp("create_route.xml", &len);
	assert_int_equal(aws_xml_return_true(x, len, "CreateRouteResponse", &e), 0);
	assert_int_equal(aws_xml_return_true(x, len, "DeleteRouteResponse", &e), -1);
	free(x);
	x = slurp("return_false.xml", &len);
	assert_int_equal(aws_xml_return_true(x, len, "CreateRouteResponse", &e), -1);
	assert_contains(e.msg, "false");
	free(x);
	x = slurp("external_entity.xml", &len);
	assert_int_equal(aws_xml_return_true(x, len, "CreateRouteResponse", &e), -1);
	free(x);
	x = slurp("describe_nic_attr_sdc.xml", &len);
	assert_int_equal(aws_xml_source_dest_check(x, len, &on, &e), 0);
	assert_false(on);
	free(x);
	static const char bad[] = "<DescribeNetworkInterfaceAttributeResponse><sourceDestCheck>"
				  "<value>maybe</value></sourceDestCheck>"
				  "</DescribeNetworkInterfaceAttributeResponse>";
	assert_int_equal(aws_xml_source_dest_check(bad, strlen(bad), &on, &e), -1);
	static const char miss[] = "<DescribeNetworkInterfaceAttributeResponse/>";
	assert_int_equal(aws_xml_source_dest_check(miss, strlen(miss), &on, &e), -1);
}

static void test_error_parse(void **state)
{
	struct aws_ec2_error err;
	size_t len;
	char *x;
	mg_err e = {{0}};

	(void)state;
	x = slurp("error_RequestLimitExceeded.xml", &len);
	aws_xml_error(x, len, 503, &err);
	assert_string_equal(err.code, "RequestLimitExceeded");
	assert_string_equal(err.request_id, "ea966190-f9aa-478e-9ede-example");
	assert_true(err.retryable);
	free(x);
	x = slurp("error_UnauthorizedOperation.xml", &len);
	aws_xml_error(x, len, 403, &err);
	assert_false(err.retryable);
	aws_ec2_error_msg(&err, "CreateRoute", &e);
	assert_contains(e.msg, "the instance role lacks ec2:CreateRoute");
	free(x);
	x = slurp("error_AuthFailure.xml", &len);
	aws_xml_error(x, len, 401, &err);
	assert_true(err.auth);
	free(x);
	x = slurp("error_InternalError.xml", &len);
	aws_xml_error(x, len, 500, &err);
	assert_true(err.retryable);
	free(x);
	/* not XML at all: status decides */
	aws_xml_error("<html>bad gateway", 17, 502, &err);
	assert_string_equal(err.code, "");
	assert_true(err.retryable);
	aws_xml_error(NULL, 0, 400, &err);
	assert_false(err.retryable);
	aws_ec2_error_msg(&err, "DeleteRoute", &e);
	assert_contains(e.msg, "HTTP 400");
	/* Code of the wrong type is ignored, not trusted */
	static const char wt[] = "<Response><Errors><Error><Code><b>x</b></Code></Error></Errors>"
				 "</Response>";
	aws_xml_error(wt, strlen(wt), 400, &err);
	assert_string_equal(err.code, "");
}

/* ---------------------------------------------------------------- client */

struct script {
	const char *files[8]; /* answer bodies; "" = empty */
	long status[8];
	int n, next;
	char bodies[8][2048]; /* request bodies seen */
	char auth[8][512];
	bool had_token[8];
	int sleeps;
	long slept_ms;
	int creds_calls, forced;
	int progress;
	int abort_after; /* > 0: the abort hook says "stop" from this call on */
};

static int scripted(void *ud, const char *url, const char *const *h, size_t nh, const char *body,
		    long *status, char **resp, size_t *resp_len, mg_err *e)
{
	struct script *s = ud;
	int i = s->next++;

	assert_string_equal(url, "https://ec2.eu-west-1.amazonaws.com");
	if (i >= s->n)
		fail_msg("unexpected request %d: %s", i, body);
	snprintf(s->bodies[i], sizeof(s->bodies[i]), "%s", body);
	for (size_t k = 0; k < nh; k++) {
		if (!strncmp(h[k], "Authorization: ", 15))
			snprintf(s->auth[i], sizeof(s->auth[i]), "%s", h[k]);
		if (!strcmp(h[k], "X-Amz-Security-Token: TOKEN"))
			s->had_token[i] = true;
	}
	*status = s->status[i];
	if (!s->files[i]) {
		(void)e;
		return mg_err_set(e, "cannot reach EC2 at %s: timed out", url);
	}
	if (!s->files[i][0]) {
		*resp = strdup("");
		*resp_len = 0;
	} else {
		*resp = slurp(s->files[i], resp_len);
	}
	return 0;
}

static void no_sleep(void *ud, long ms)
{
	struct script *s = ud;
	s->sleeps++;
	s->slept_ms += ms;
}

static bool count_abort_checks(void *ud)
{
	struct script *s = ud;
	s->progress++;
	return s->abort_after > 0 && s->progress >= s->abort_after;
}

static int fake_creds(void *ud, bool force, struct aws_creds *out, mg_err *e)
{
	struct script *s = ud;
	(void)e;
	s->creds_calls++;
	s->forced += force;
	memset(out, 0, sizeof(*out));
	strcpy(out->access_key_id, "ASIAEXAMPLE");
	strcpy(out->secret_access_key, "SECRET");
	strcpy(out->token, "TOKEN");
	return 0;
}

static time_t fixed_now(void)
{
	return 1735689600;
}

static uint32_t max_rand(void)
{
	return UINT32_MAX;
}

static void client(struct aws_ec2 *c, struct script *s)
{
	mg_err e = {{0}};

	assert_int_equal(aws_ec2_init(c, "eu-west-1", NULL, NULL, fake_creds, s, &e), 0);
	assert_string_equal(c->host, "ec2.eu-west-1.amazonaws.com");
	c->transport = scripted;
	c->transport_ud = s;
	c->sleep_ms = no_sleep;
	c->sleep_ud = s;
	c->now = fixed_now;
	c->rand32 = max_rand;
}

static void test_form(void **state)
{
	struct aws_param p[] = {{"DestinationCidrBlock", "10.8.0.0/24"}, {"X", "a b&c=d"}};
	char *f = aws_ec2_form("CreateRoute", p, 2);

	(void)state;
	assert_string_equal(f, "Action=CreateRoute&Version=2016-11-15&DestinationCidrBlock="
			       "10.8.0.0%2F24&X=a%20b%26c%3Dd");
	free(f);
}

static void test_init_bad(void **state)
{
	struct aws_ec2 c;
	mg_err e = {{0}};

	(void)state;
	assert_int_equal(aws_ec2_init(&c, "eu west", NULL, NULL, NULL, NULL, &e), -1);
	assert_int_equal(aws_ec2_init(&c, "eu-west-1", "http://x", NULL, NULL, NULL, &e), -1);
	assert_contains(e.msg, "https://");
	assert_int_equal(
	    aws_ec2_init(&c, "eu-west-1", "https://h:8443/", "/ca.pem", NULL, NULL, &e), 0);
	assert_string_equal(c.host, "h:8443");
	assert_int_equal(aws_ec2_init(&c, "eu-west-1", "https://h/p", NULL, NULL, NULL, &e), -1);
}

static void test_describe_paginated(void **state)
{
	struct script s = {
	    .files = {"describe_route_tables_page1.xml", "describe_route_tables_page2.xml"},
	    .status = {200, 200},
	    .n = 2};
	struct cloud_scopes t = {0};
	struct aws_ec2_error err;
	struct aws_ec2 c;
	mg_err e = {{0}};

	(void)state;
	client(&c, &s);
	if (aws_ec2_describe_route_tables(&c, "vpc-1", NULL, 0, &t, &err, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(t.n, 2);
	assert_string_equal(s.bodies[0], "Action=DescribeRouteTables&Version=2016-11-15&"
					 "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&"
					 "MaxResults=100");
	assert_contains(s.bodies[1], "&NextToken=page-2-token");
	assert_contains(s.auth[0], "Credential=ASIAEXAMPLE/20250101/eu-west-1/ec2/aws4_request, "
				   "SignedHeaders=content-type;host;x-amz-date;"
				   "x-amz-security-token, Signature=");
	assert_true(s.had_token[0]);
	cloud_scopes_free(&t);

	/* listed ids, still scoped to the VPC */
	struct script s2 = {.files = {"describe_route_tables_page2.xml"}, .status = {200}, .n = 1};
	const char *ids[] = {"rtb-0bbb", "rtb-0ccc"};
	client(&c, &s2);
	assert_int_equal(aws_ec2_describe_route_tables(&c, "vpc-1", ids, 2, &t, &err, &e), 0);
	assert_string_equal(s2.bodies[0], "Action=DescribeRouteTables&Version=2016-11-15&"
					  "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&"
					  "RouteTableId.1=rtb-0bbb&RouteTableId.2=rtb-0ccc");
	cloud_scopes_free(&t);
}

static void test_retry_throttle(void **state)
{
	struct script s = {.files = {"error_RequestLimitExceeded.xml", "error_InternalError.xml",
				     NULL, "create_route.xml"},
			   .status = {503, 500, 0, 200},
			   .n = 4};
	struct aws_ec2_error err;
	struct aws_ec2 c;
	struct cidr d = C("10.8.0.0/24");
	mg_err e = {{0}};

	(void)state;
	client(&c, &s);
	c.abort = (struct httpc_abort){count_abort_checks, &s};
	if (aws_ec2_create_route(&c, "rtb-1", &d, "eni-1", &err, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(s.next, 4);
	assert_int_equal(s.sleeps, 3);
	/* the abort hook is asked before each of the 4 attempts and 3 sleeps */
	assert_int_equal(s.progress, 7);
	/* full jitter: each sleep at most its cap, 500 + 1000 + 2000 */
	assert_true(s.slept_ms <= 3500);
	assert_string_equal(s.bodies[0], "Action=CreateRoute&Version=2016-11-15&RouteTableId=rtb-1"
					 "&DestinationCidrBlock=10.8.0.0%2F24&"
					 "NetworkInterfaceId=eni-1");

	/* attempts are bounded */
	struct script s2 = {.n = 8};
	for (int i = 0; i < 8; i++) {
		s2.files[i] = "error_RequestLimitExceeded.xml";
		s2.status[i] = 503;
	}
	client(&c, &s2);
	c.max_attempts = 3;
	assert_int_equal(aws_ec2_create_route(&c, "rtb-1", &d, "eni-1", &err, &e), -1);
	assert_int_equal(s2.next, 3);
	assert_string_equal(err.code, "RequestLimitExceeded");
	assert_contains(e.msg, "throttled");
}

/* Told to stop, the retries end at once: no further attempt, no sleep, err->aborted. */
static void test_retry_abort(void **state)
{
	struct script s = {.files = {"error_RequestLimitExceeded.xml", "create_route.xml"},
			   .status = {503, 200},
			   .n = 2,
			   .abort_after = 2};
	struct aws_ec2_error err;
	struct aws_ec2 c;
	struct cidr d = C("10.8.0.0/24");
	mg_err e = {{0}};

	(void)state;
	client(&c, &s);
	c.abort = (struct httpc_abort){count_abort_checks, &s};
	assert_int_equal(aws_ec2_create_route(&c, "rtb-1", &d, "eni-1", &err, &e), -1);
	assert_int_equal(s.next, 1);
	assert_int_equal(s.sleeps, 0);
	assert_true(err.aborted);
	assert_non_null(strstr(e.msg, "abandoned"));
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(aws_backoff_ms(500, 20000, 0, UINT32_MAX), (long)(UINT32_MAX % 501));
	for (int a = 0; a < 40; a++)
		assert_true(aws_backoff_ms(500, 20000, a, UINT32_MAX) <= 20000);
	assert_int_equal(aws_backoff_ms(500, 20000, 3, 0), 0);
}

static void test_errors(void **state)
{
	struct aws_ec2_error err;
	struct aws_ec2 c;
	struct cidr d = C("fd00:1::/64");
	mg_err e = {{0}};

	(void)state;
	/* delete of a missing route = success; IPv6 destination parameter */
	struct script s = {.files = {"error_InvalidRoute.NotFound.xml"}, .status = {400}, .n = 1};
	client(&c, &s);
	assert_int_equal(aws_ec2_delete_route(&c, "rtb-1", &d, &err, &e), 0);
	assert_contains(s.bodies[0], "DestinationIpv6CidrBlock=fd00%3A1%3A%3A%2F64");
	assert_null(strstr(s.bodies[0], "NetworkInterfaceId"));

	/* unauthorized: no retry, actionable */
	struct script s2 = {.files = {"error_UnauthorizedOperation.xml"}, .status = {403}, .n = 1};
	client(&c, &s2);
	assert_int_equal(aws_ec2_replace_route(&c, "rtb-1", &d, "eni-1", &err, &e), -1);
	assert_contains(e.msg, "lacks ec2:ReplaceRoute");
	assert_int_equal(s2.next, 1);

	/* auth failure: credentials forced once, then success */
	struct script s3 = {
	    .files = {"error_AuthFailure.xml", "delete_route.xml"}, .status = {401, 200}, .n = 2};
	client(&c, &s3);
	assert_int_equal(aws_ec2_delete_route(&c, "rtb-1", &d, &err, &e), 0);
	assert_int_equal(s3.forced, 1);
	assert_int_equal(s3.sleeps, 0);

	/* source/dest check off and read back */
	struct script s4 = {.files = {"modify_nic_attr.xml", "describe_nic_attr_sdc.xml"},
			    .status = {200, 200},
			    .n = 2};
	bool on = true;
	client(&c, &s4);
	assert_int_equal(aws_ec2_set_source_dest_check(&c, "eni-1", false, &err, &e), 0);
	assert_int_equal(aws_ec2_get_source_dest_check(&c, "eni-1", &on, &err, &e), 0);
	assert_false(on);
	assert_string_equal(s4.bodies[0], "Action=ModifyNetworkInterfaceAttribute&Version="
					  "2016-11-15&NetworkInterfaceId=eni-1&"
					  "SourceDestCheck.Value=false");
	assert_contains(s4.bodies[1], "Action=DescribeNetworkInterfaceAttribute");
	assert_contains(s4.bodies[1], "Attribute=sourceDestCheck");

	/* a 200 whose body is garbage is an error, not success */
	struct script s5 = {.files = {"malformed_truncated.xml"}, .status = {200}, .n = 1};
	client(&c, &s5);
	assert_int_equal(aws_ec2_create_route(&c, "rtb-1", &d, "eni-1", &err, &e), -1);
	assert_contains(e.msg, "CreateRoute");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_tables_parse),
	    cmocka_unit_test(test_route_tables_bad),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_return_and_sdc),
	    cmocka_unit_test(test_error_parse),
	    cmocka_unit_test(test_form),
	    cmocka_unit_test(test_init_bad),
	    cmocka_unit_test(test_describe_paginated),
	    cmocka_unit_test(test_retry_throttle),
	    cmocka_unit_test(test_retry_abort),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
