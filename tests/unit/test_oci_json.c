/* SPDX-License-Identifier: MIT */
/*
 * The OCI driver's parsers against the recorded answers in tests/data/oci: IMDS instance and
 * VNICs, federation (token exp from the JWT), GetVnic, ListPrivateIps, GetSubnet,
 * ListSubnets, GetVcn, GetRouteTable (rules, kinds, descriptions, the kept JSON re-serialised
 * unchanged), error bodies and their kinds, the marker, the backoff; and every hostile-*.json
 * refused cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "oci_api.h"
#include "oci_http.h"
#include "oci_imds.h"

#define D MG_TESTDATA_DIR "/oci/"

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), D "%s", name);
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

#define P "ocid1.privateip.oc1.phx.aaaaaaaaconna00000000000000000000000000000000000000000000000"

static void test_imds(void **state)
{
	size_t len;
	char *b = slurp("imds-instance.json", &len);
	struct oci_instance in;
	struct oci_vnic_md v;
	mg_err e = {""};
	(void)state;

	assert_int_equal(oci_parse_instance(b, len, &in, &e), 0);
	assert_string_equal(in.region, "us-phoenix-1");
	assert_string_equal(in.realm_domain, "oraclecloud.com");
	assert_true(!strncmp(in.compartment, "ocid1.compartment.", 18));
	assert_true(!strncmp(in.id, "ocid1.instance.", 15));
	free(b);
	b = slurp("imds-vnics.json", &len);
	assert_int_equal(oci_parse_vnics(b, len, &v, &e), 0);
	assert_string_equal(v.private_ip, "198.18.1.10");
	assert_string_equal(v.mac, "02:00:17:12:01:0a");
	assert_string_equal(v.subnet_cidr, "198.18.1.0/24");
	assert_true(!strncmp(v.vnic_id, "ocid1.vnic.", 11));
	free(b);
	/* a region that could not be a host name, an empty list */
	assert_int_equal(oci_parse_instance("{\"id\":\"i\",\"compartmentId\":\"c\","
					    "\"canonicalRegionName\":\"us/../x\"}",
					    63, &in, &e),
			 -1);
	assert_int_equal(oci_parse_vnics("[]", 2, &v, &e), -1);
	assert_int_equal(oci_parse_vnics("[{\"vnicId\":\"v\",\"privateIp\":\"nope\"}]", 36, &v, &e),
			 -1);
}

static void test_federation(void **state)
{
	size_t len;
	char *b = slurp("federation-response.json", &len);
	char tok[OCI_TOKEN_MAX];
	time_t exp = 0;
	mg_err e = {""};
	(void)state;

	assert_int_equal(oci_parse_federation(b, len, tok, sizeof(tok), &exp, &e), 0);
	assert_int_equal((long long)exp, 1764548400LL);
	assert_int_equal(tok[0], 'e');
	free(b);
	static const char *const bad[] = {
	    "hostile-federation-jwt-exp-string.json",
	    "hostile-federation-jwt-no-exp.json",
	    "hostile-federation-no-token.json",
	    "hostile-federation-not-jwt.json",
	    "hostile-truncated.json",
	    "hostile-deep-nesting.json",
	};
	for (size_t i = 0; i < MG_ARRAY_SIZE(bad); i++) {
		b = slurp(bad[i], &len);
		e.msg[0] = '\0';
		if (oci_parse_federation(b, len, tok, sizeof(tok), &exp, &e) != -1)
			fail_msg("%s accepted", bad[i]);
		assert_true(e.msg[0] != '\0');
		free(b);
	}
}

static void test_vnic_pip_subnet_vcn(void **state)
{
	size_t len;
	char *b;
	bool skip = true;
	char sub[CLOUD_ID_LEN], vcn[CLOUD_ID_LEN], rt[CLOUD_ID_LEN], id[CLOUD_ID_LEN];
	char ids[8][CLOUD_ID_LEN];
	size_t n = 0;
	struct cidr c[4];
	mg_err e = {""};
	(void)state;

	b = slurp("vnic.json", &len);
	assert_int_equal(oci_parse_vnic(b, len, &skip, sub, sizeof(sub), &e), 0);
	assert_false(skip);
	assert_true(!strncmp(sub, "ocid1.subnet.", 13));
	free(b);
	b = slurp("vnic-skip-true.json", &len);
	assert_int_equal(oci_parse_vnic(b, len, &skip, NULL, 0, &e), 0);
	assert_true(skip);
	free(b);
	b = slurp("hostile-vnic-wrong-types.json", &len);
	assert_int_equal(oci_parse_vnic(b, len, &skip, sub, sizeof(sub), &e), -1);
	free(b);

	b = slurp("private-ips.json", &len);
	assert_int_equal(oci_parse_private_ips(b, len, "198.18.1.10", id, sizeof(id), &e), 0);
	assert_string_equal(id, P);
	assert_int_equal(oci_parse_private_ips(b, len, NULL, id, sizeof(id), &e), 0);
	assert_string_equal(id, P);
	assert_int_equal(oci_parse_private_ips(b, len, "198.18.1.99", id, sizeof(id), &e), -1);
	free(b);

	b = slurp("subnets.json", &len);
	assert_int_equal(oci_parse_subnets(b, len, ids, &n, 8, &e), 0);
	assert_int_equal(n, 2);
	assert_true(strstr(ids[0], "rta") && strstr(ids[1], "rtb"));
	/* a second page with the same tables adds nothing */
	assert_int_equal(oci_parse_subnets(b, len, ids, &n, 8, &e), 0);
	assert_int_equal(n, 2);
	free(b);
	b = slurp("subnet.json", &len);
	assert_int_equal(oci_parse_subnet(b, len, vcn, sizeof(vcn), rt, sizeof(rt), &e), 0);
	assert_true(!strncmp(vcn, "ocid1.vcn.", 10));
	assert_true(!strncmp(rt, "ocid1.routetable.", 17));
	free(b);
	b = slurp("vcn.json", &len);
	assert_int_equal(oci_parse_vcn(b, len, c, &n, 4, &e), 0);
	assert_int_equal(n, 1);
	char s[CIDR_STRLEN];
	assert_string_equal(cidr_format(&c[0], s), "198.18.0.0/16");
	free(b);
	assert_int_equal(oci_parse_vcn("{\"cidrBlocks\":[\"x\"]}", 20, c, &n, 4, &e), -1);
	assert_int_equal(oci_parse_vcn("{}", 2, c, &n, 4, &e), -1);
}

static void test_route_table(void **state)
{
	size_t len;
	char *b = slurp("route-table.json", &len);
	struct cloud_scopes ss = {0};
	mg_err e = {""};
	cJSON *rules = NULL;
	(void)state;

	struct cloud_scope *s = cloud_scopes_add(&ss, &e);
	assert_non_null(s);
	assert_int_equal(oci_parse_route_table(b, len, s, &rules, &e), 0);
	assert_int_equal(s->n_routes, 3);
	assert_true(s->routes[0].has_dst);
	assert_int_equal(s->routes[0].target_kind, CLOUD_TARGET_GATEWAY);
	assert_string_equal(s->routes[0].origin, "STATIC");
	assert_true(strstr(s->routes[0].description, "netops") != NULL);
	assert_false(s->routes[1].has_dst); /* SERVICE_CIDR_BLOCK */
	assert_int_equal(s->routes[2].target_kind, CLOUD_TARGET_IP);
	assert_string_equal(s->routes[2].target_id, P);
	/* the kept rules print back as the answer held them (order, unicode, quotes) */
	char *txt = cJSON_PrintUnformatted(rules);
	assert_non_null(txt);
	assert_non_null(strstr(txt, "{\"destination\":\"203.0.113.0/24\",\"destinationType\":"
				    "\"CIDR_BLOCK\",\"networkEntityId\":\"ocid1.drg."));
	assert_non_null(strstr(txt, "\"description\":\"on-prem via DRG \xe2\x80\x94 owned by "
				    "\\\"netops\\\"; do not touch\",\"routeType\":\"STATIC\"}"));
	cJSON_free(txt);
	cJSON_Delete(rules);
	free(b);
	cloud_scopes_free(&ss);

	static const char *const bad[] = {
	    "hostile-deep-nesting.json",     "hostile-long-description.json",
	    "hostile-rule-wrong-types.json", "hostile-rules-not-array.json",
	    "hostile-truncated.json",        "hostile-vnic-wrong-types.json",
	};
	for (size_t i = 0; i < MG_ARRAY_SIZE(bad); i++) {
		struct cloud_scopes h = {0};
		struct cloud_scope *hs = cloud_scopes_add(&h, &e);
		assert_non_null(hs);
		b = slurp(bad[i], &len);
		e.msg[0] = '\0';
		rules = NULL;
		if (oci_parse_route_table(b, len, hs, &rules, &e) != -1)
			fail_msg("%s accepted", bad[i]);
		assert_null(rules);
		assert_true(e.msg[0] != '\0');
		free(b);
		cloud_scopes_free(&h);
	}
}

struct ecase {
	const char *file;
	long status;
	const char *code;
	enum cloud_err_kind kind;
};

static void test_errors(void **state)
{
	static const struct ecase c[] = {
	    {"error-400-invalid-parameter.json", 400, "InvalidParameter", CLOUD_ERR_FATAL},
	    {"error-400-limit-exceeded.json", 400, "LimitExceeded", CLOUD_ERR_LIMIT},
	    {"error-400-related-resource.json", 400, "RelatedResourceNotAuthorizedOrNotFound",
	     CLOUD_ERR_FATAL},
	    {"error-401-not-authenticated.json", 401, "NotAuthenticated", CLOUD_ERR_UNAUTHORIZED},
	    {"error-404-not-authorized-or-not-found.json", 404, "NotAuthorizedOrNotFound",
	     CLOUD_ERR_UNAUTHORIZED},
	    {"error-409-incorrect-state.json", 409, "IncorrectState", CLOUD_ERR_TRANSIENT},
	    {"error-409-lock-conflict.json", 409, "LockConflict", CLOUD_ERR_TRANSIENT},
	    {"error-412-no-etag-match.json", 412, "NoEtagMatch", CLOUD_ERR_PRECONDITION},
	    {"error-429-too-many-requests.json", 429, "TooManyRequests", CLOUD_ERR_THROTTLED},
	    {"error-500-internal-server-error.json", 500, "InternalServerError",
	     CLOUD_ERR_TRANSIENT},
	    {"error-501-method-not-implemented.json", 501, "MethodNotImplemented", CLOUD_ERR_FATAL},
	    {"error-503-service-unavailable.json", 503, "ServiceUnavailable", CLOUD_ERR_TRANSIENT},
	};
	(void)state;

	for (size_t i = 0; i < MG_ARRAY_SIZE(c); i++) {
		size_t len;
		char *b = slurp(c[i].file, &len);
		struct oci_error err = {.status = c[i].status};
		oci_parse_error(b, len, &err);
		assert_string_equal(err.code, c[i].code);
		assert_true(err.message[0] != '\0');
		if (oci_err_kind(&err) != c[i].kind)
			fail_msg("%s: kind %d", c[i].file, oci_err_kind(&err));
		free(b);
	}
	struct oci_error err = {.status = 502};
	oci_parse_error("<html>", 6, &err);
	assert_string_equal(err.code, "");
	assert_int_equal(oci_err_kind(&err), CLOUD_ERR_TRANSIENT);
	err = (struct oci_error){.status = 404};
	oci_parse_error("{\"code\":\"NotFound\",\"message\":\"x\"}", 34, &err);
	assert_int_equal(oci_err_kind(&err), CLOUD_ERR_NOT_FOUND);

	char pol[320];
	oci_policy_for("UpdateRouteTable", "ocid1.compartment.oc1..x", pol, sizeof(pol));
	assert_string_equal(pol,
			    "Allow dynamic-group meshgate-connectors to manage route-tables in "
			    "compartment id ocid1.compartment.oc1..x where request.permission = "
			    "'ROUTE_TABLE_UPDATE'");
	oci_policy_for("ListPrivateIps", "c", pol, sizeof(pol));
	assert_string_equal(pol, "Allow dynamic-group meshgate-connectors to read private-ips in "
				 "compartment id c");
	oci_policy_for("UpdateVnic", "c", pol, sizeof(pol));
	assert_non_null(strstr(pol, "use vnics"));
}

static void test_marker_backoff(void **state)
{
	struct cloud_mesh_id m;
	(void)state;

	assert_true(oci_marker_parse("meshgate:n-1:c-2", &m));
	assert_string_equal(m.network, "n-1");
	assert_string_equal(m.connector, "c-2");
	assert_true(oci_marker_parse("meshgate:n-1", &m));
	assert_string_equal(m.connector, "");
	assert_false(oci_marker_parse("meshgate:", &m));
	assert_false(oci_marker_parse("on-prem via DRG", &m));
	assert_false(oci_marker_parse(NULL, &m));
	for (int a = 0; a < 10; a++) {
		long v = oci_backoff_ms(200, 5000, a, 0xffffffffu);
		long lo = oci_backoff_ms(200, 5000, a, 0);
		assert_true(v <= 5000 && lo >= 100 && lo <= v);
	}
	assert_int_equal(oci_backoff_ms(200, 5000, 0, 0), 100);
	assert_int_equal(oci_backoff_ms(200, 5000, 20, 0), 2500);
}

/* The reason given for a 401 after a fresh federation: the clock when OCI's Date is far off. */
static void test_401_hint(void **state)
{
	char out[240];
	const time_t t = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */

	(void)state;
	oci_401_hint("Tue, 14 Nov 2023 22:20:20 GMT", t, out, sizeof(out));
	assert_non_null(strstr(out, "clock is 420 s behind OCI's"));
	oci_401_hint("Tue, 14 Nov 2023 22:06:20 GMT", t, out, sizeof(out));
	assert_non_null(strstr(out, "clock is 420 s ahead of OCI's"));
	oci_401_hint("Tue, 14 Nov 2023 22:14:00 GMT", t, out, sizeof(out));
	assert_non_null(strstr(out, "the signature itself was refused"));
	oci_401_hint("", t, out, sizeof(out));
	assert_non_null(strstr(out, "check this host's clock"));
	oci_401_hint("Tue, 14 Nov 2023 22:14:00 GMT trailing", t, out, sizeof(out));
	assert_non_null(strstr(out, "check this host's clock"));
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(test_imds),
	    cmocka_unit_test(test_federation),
	    cmocka_unit_test(test_vnic_pip_subnet_vcn),
	    cmocka_unit_test(test_route_table),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_marker_backoff),
	    cmocka_unit_test(test_401_hint),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
