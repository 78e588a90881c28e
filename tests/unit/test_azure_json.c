/* SPDX-License-Identifier: MIT */
/* Azure parsers on canned answers (tests/data/azure) and hostile ones, route names and
 * markers, classification, and the mapping of ARM errors onto the provider-neutral kinds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_arm.h"
#include "azure_json.h"
#include "cloud.h"

#define DATA MG_TESTDATA_DIR "/azure/"

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
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
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
	mg_err e;
	if (cidr_parse(s, &c, 0, &e))
		fail_msg("%s: %s", s, e.msg);
	return c;
}

static void
test_imds(void **state)
{
	struct az_imds_doc d;
	mg_err e = {""};
	size_t len;
	char *x = slurp("imds_instance.json", &len);

	(void)state;
	assert_int_equal(az_parse_imds(x, len, &d, &e), 0);
	assert_string_equal(d.subscription, "6f1b4a2e-0c3d-4e5f-8a9b-0123456789ab");
	assert_string_equal(d.resource_group, "rg-meshgate");
	assert_string_equal(d.vm_name, "vm-gw-1");
	assert_string_equal(d.location, "westeurope");
	assert_string_equal(d.mac, "000D3A12010A");
	assert_string_equal(d.private_ip, "198.18.1.10");
	assert_contains(d.vm_id, "/providers/Microsoft.Compute/virtualMachines/vm-gw-1");
	/* cut anywhere: refused */
	assert_int_equal(az_parse_imds(x, len / 2, &d, &e), -1);
	free(x);

	static const char *const bad[][2] = {
	    {"", "empty"},
	    {"[]", "instance metadata"},
	    {"{\"compute\":{}}", "subscriptionId"},
	    {"{\"compute\":{\"subscriptionId\":1}}", "subscriptionId"},
	    {"{\"compute\":{\"subscriptionId\":\"s\",\"resourceGroupName\":\"r\",\"name\":\"v\","
	     "\"resourceId\":\"/x\",\"location\":\"l\"},\"network\":{\"interface\":[]}}",
	     "not an ARM id"},
	    {"{\"compute\":{\"subscriptionId\":\"s/..\",\"resourceGroupName\":\"r\",\"name\":\"v\","
	     "\"resourceId\":\"/subscriptions/s\",\"location\":\"l\"},\"network\":{\"interface\":"
	     "[]}}",
	     "'/'"},
	    {"{\"compute\":{\"subscriptionId\":\"s\",\"resourceGroupName\":\"r\",\"name\":\"v\","
	     "\"resourceId\":\"/subscriptions/s\",\"location\":\"l\"},\"network\":{\"interface\":"
	     "[]}}",
	     "no interface"},
	    {"{\"compute\":{\"subscriptionId\":\"s\",\"resourceGroupName\":\"r\",\"name\":\"v\","
	     "\"resourceId\":\"/subscriptions/s\",\"location\":\"l\"},\"network\":{\"interface\":"
	     "[{\"macAddress\":\"zz\",\"ipv4\":{\"ipAddress\":[]}}]}}",
	     "not a MAC"},
	    {"{\"compute\":{\"subscriptionId\":\"s\",\"resourceGroupName\":\"r\",\"name\":\"v\","
	     "\"resourceId\":\"/subscriptions/s\",\"location\":\"l\"},\"network\":{\"interface\":"
	     "[{\"macAddress\":\"000D3A12010A\",\"ipv4\":{\"ipAddress\":[{\"privateIpAddress\":"
	     "\"300.1.1.1\"}]}}]}}",
	     "not an IPv4 address"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (az_parse_imds(bad[i][0], strlen(bad[i][0]), &d, &e) == 0)
			fail_msg("accepted: %s", bad[i][0]);
		assert_contains(e.msg, bad[i][1]);
	}
	/* deep nesting is refused before cJSON recurses */
	char deep[400];
	memset(deep, '[', sizeof(deep) - 1);
	deep[0] = '{';
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(az_parse_imds(deep, strlen(deep), &d, &e), -1);
}

static void test_token(void **state)
{
	struct az_token *t = malloc(sizeof(*t));
	mg_err e = {""};
	size_t len;
	char *x = slurp("token.json", &len), msg[256];

	(void)state;
	assert_non_null(t);
	assert_int_equal(az_parse_token(x, len, t, &e), 0);
	assert_int_equal(t->expires_on, 1796264615);
	assert_int_equal(t->expires_in, 86399);
	assert_true(!strncmp(t->access_token, "eyJ0eXAi", 8));
	free(x);

	static const char *const bad[][2] = {
	    {"{\"access_token\":\"a\",\"expires_on\":1796264615}", "expires_on"},
	    {"{\"access_token\":\"a\",\"expires_on\":\"17x\"}", "not epoch seconds"},
	    {"{\"access_token\":\"a\",\"expires_on\":\"99999999999999999999\"}", "epoch"},
	    {"{\"access_token\":\"a b\",\"expires_on\":\"1\"}", "not a token"},
	    {"{\"access_token\":\"a\",\"expires_on\":\"1\",\"token_type\":\"MAC\"}", "Bearer"},
	    {"{\"access_token\":\"a\",\"expires_on\":\"1\",\"expires_in\":\"-5\"}", "expires_in"},
	    {"{\"expires_on\":\"1\"}", "access_token"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (az_parse_token(bad[i][0], strlen(bad[i][0]), t, &e) == 0)
			fail_msg("accepted: %s", bad[i][0]);
		assert_contains(e.msg, bad[i][1]);
		assert_string_equal(t->access_token, ""); /* wiped */
	}
	/* an error body is no token, but its text is kept for the message */
	x = slurp("token_error_identity_not_found.json", &len);
	assert_int_equal(az_parse_token(x, len, t, &e), -1);
	az_parse_imds_error(x, len, msg, sizeof(msg));
	assert_string_equal(msg, "invalid_request: Identity not found");
	free(x);
	x = slurp("imds_error_no_metadata.json", &len);
	az_parse_imds_error(x, len, msg, sizeof(msg));
	assert_contains(msg, "Required metadata header");
	free(x);
	az_parse_imds_error("nope", 4, msg, sizeof(msg));
	assert_string_equal(msg, "");
	free(t);
}

static void test_vm_nic(void **state)
{
	char nics[AZ_MAX_NICS][AZ_RID_LEN];
	struct az_nic n;
	size_t cnt, len;
	mg_err e = {""};
	char *x = slurp("vm.json", &len);

	(void)state;
	assert_int_equal(az_parse_vm(x, len, nics, AZ_MAX_NICS, &cnt, &e), 0);
	assert_int_equal(cnt, 1);
	assert_string_equal(az_rid_name(nics[0]), "vm-gw-1-nic");
	free(x);
	/* the primary NIC first */
	static const char two[] =
	    "{\"properties\":{\"networkProfile\":{\"networkInterfaces\":[{\"id\":\"/subscriptions/s"
	    "/resourceGroups/r/providers/Microsoft.Network/networkInterfaces/a\"},{\"id\":"
	    "\"/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkInterfaces/b\","
	    "\"properties\":{\"primary\":true}}]}}}";
	assert_int_equal(az_parse_vm(two, strlen(two), nics, AZ_MAX_NICS, &cnt, &e), 0);
	assert_int_equal(cnt, 2);
	assert_string_equal(az_rid_name(nics[0]), "b");
	assert_string_equal(az_rid_name(nics[1]), "a");
	static const char evil[] =
	    "{\"properties\":{\"networkProfile\":{\"networkInterfaces\":[{\"id\":\"https://evil."
	    "example/x?y\"}]}}}";
	assert_int_equal(az_parse_vm(evil, strlen(evil), nics, AZ_MAX_NICS, &cnt, &e), -1);
	assert_contains(e.msg, "not an ARM resource id");
	static const char none[] =
	    "{\"properties\":{\"networkProfile\":{\"networkInterfaces\":[]}}}";
	assert_int_equal(az_parse_vm(none, strlen(none), nics, AZ_MAX_NICS, &cnt, &e), -1);
	assert_contains(e.msg, "no network interface");

	x = slurp("nic.json", &len);
	assert_int_equal(az_parse_nic(x, len, "000D3A12010A", "198.18.1.10", &n, &e), 0);
	assert_true(n.matched);
	assert_false(n.forwarding);
	assert_string_equal(n.etag, "W/\"a0000003-0000-4000-8000-000000000004\"");
	assert_string_equal(n.private_ip, "198.18.1.10");
	assert_string_equal(az_rid_name(n.subnet_id), "snet-gw");
	/* matched by address alone, or by MAC in another spelling */
	assert_int_equal(az_parse_nic(x, len, "ffffffffffff", "198.18.1.10", &n, &e), 0);
	assert_true(n.matched);
	assert_int_equal(az_parse_nic(x, len, "00:0d:3a:12:01:0a", "", &n, &e), 0);
	assert_true(n.matched);
	assert_int_equal(az_parse_nic(x, len, "ffffffffffff", "198.18.9.9", &n, &e), 0);
	assert_false(n.matched);
	free(x);
	x = slurp("nic_put_response.json", &len);
	assert_int_equal(az_parse_nic(x, len, NULL, NULL, &n, &e), 0);
	assert_true(n.forwarding);
	free(x);
	static const char *const bad[][2] = {
	    {"{\"properties\":{}}", "etag"},
	    {"{\"etag\":\"x\",\"properties\":{\"enableIPForwarding\":\"yes\","
	     "\"ipConfigurations\":[]}}",
	     "enableIPForwarding"},
	    {"{\"etag\":\"x\",\"properties\":{\"ipConfigurations\":[]}}", "no ip configuration"},
	    {"{\"etag\":\"x\",\"properties\":{\"ipConfigurations\":[7]}}", "not an object"},
	    {"{\"etag\":\"x\",\"properties\":{\"ipConfigurations\":[{\"properties\":{\"subnet\":"
	     "{\"id\":\"/subscriptions/../x\"}}}]}}",
	     "not an ARM resource id"},
	    {"{\"etag\":\"x\\r\\nEvil: 1\",\"properties\":{\"ipConfigurations\":[]}}", "etag"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (az_parse_nic(bad[i][0], strlen(bad[i][0]), NULL, NULL, &n, &e) == 0)
			fail_msg("accepted: %s", bad[i][0]);
		assert_contains(e.msg, bad[i][1]);
	}
}

static void test_vnet_subnet(void **state)
{
	struct az_vnet *v = malloc(sizeof(*v));
	char table[AZ_RID_LEN];
	mg_err e = {""};
	size_t len;
	char *x = slurp("vnet.json", &len);

	(void)state;
	assert_non_null(v);
	assert_int_equal(az_parse_vnet(x, len, v, &e), 0);
	assert_int_equal(v->n_prefixes, 1);
	struct cidr want = C("198.18.0.0/16");
	assert_true(cidr_equal(&v->prefixes[0], &want));
	assert_int_equal(v->n_tables, 2); /* snet-db has none */
	assert_string_equal(az_rid_name(v->tables[0]), "rt-gw");
	assert_string_equal(az_rid_name(v->tables[1]), "rt-app");
	free(x);
	static const char *const bad[][2] = {
	    {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[]}}}", "empty address"},
	    {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.1/8\"]}}}",
	     "address space"},
	    {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[5]}}}", "not a string"},
	    {"{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"198.18.0.0/16\"]},"
	     "\"subnets\":[{\"properties\":{\"routeTable\":{\"id\":\"x\"}}}]}}",
	     "not an ARM resource id"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (az_parse_vnet(bad[i][0], strlen(bad[i][0]), v, &e) == 0)
			fail_msg("accepted: %s", bad[i][0]);
		assert_contains(e.msg, bad[i][1]);
	}
	free(v);

	x = slurp("subnet.json", &len);
	assert_int_equal(az_parse_subnet(x, len, table, sizeof(table), &e), 0);
	assert_string_equal(az_rid_name(table), "rt-app");
	free(x);
	static const char notable[] = "{\"properties\":{\"addressPrefix\":\"198.18.3.0/24\"}}";
	assert_int_equal(az_parse_subnet(notable, strlen(notable), table, sizeof(table), &e), 0);
	assert_string_equal(table, "");
	static const char badrt[] = "{\"properties\":{\"routeTable\":[]}}";
	assert_int_equal(az_parse_subnet(badrt, strlen(badrt), table, sizeof(table), &e), -1);
}

static void test_route_table(void **state)
{
	struct cloud_scope s = {0};
	mg_err e = {""};
	size_t len;
	char *x = slurp("route_table.json", &len);

	(void)state;
	assert_int_equal(az_parse_route_table(x, len, &s, &e), 0);
	assert_string_equal(s.version, "W/\"a0000011-0000-4000-8000-000000000012\"");
	assert_int_equal(s.n_routes, 2);
	assert_string_equal(s.routes[0].name, "onprem-legacy");
	assert_int_equal(s.routes[0].target_kind, CLOUD_TARGET_GATEWAY);
	assert_int_equal(s.routes[1].target_kind, CLOUD_TARGET_IP);
	assert_string_equal(s.routes[1].target_id, "198.18.1.10");
	assert_int_equal(s.routes[1].state, CLOUD_ROUTE_ACTIVE);
	assert_string_equal(s.routes[1].description, "W/\"a0000017-0000-4000-8000-000000000018\"");
	struct cidr d = C("192.0.2.0/24");
	assert_ptr_equal(cloud_scope_find(&s, &d), &s.routes[1]);
	free(s.routes);
	/* truncated anywhere: refused */
	for (size_t cut = 1; cut < len; cut += 97) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(az_parse_route_table(x, cut, &s, &e), -1);
		free(s.routes);
	}
	free(x);
	static const char *const bad[][2] = {
	    {"{\"properties\":{\"routes\":[{\"name\":\"a b\",\"properties\":{\"nextHopType\":"
	     "\"None\"}}]}}",
	     "not a valid ARM name"},
	    {"{\"properties\":{\"routes\":[{\"name\":\"a\",\"properties\":{\"addressPrefix\":"
	     "\"10.0.0.1/8\",\"nextHopType\":\"None\"}}]}}",
	     "route a"},
	    {"{\"properties\":{\"routes\":[{\"name\":\"a\",\"properties\":{}}]}}", "nextHopType"},
	    {"{\"properties\":{\"routes\":{}}}", "routes"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		e.msg[0] = '\0';
		if (az_parse_route_table(bad[i][0], strlen(bad[i][0]), &s, &e) == 0)
			fail_msg("accepted: %s", bad[i][0]);
		assert_contains(e.msg, bad[i][1]);
		free(s.routes);
	}
	/* a table without routes */
	memset(&s, 0, sizeof(s));
	assert_int_equal(az_parse_route_table("{\"properties\":{}}", 17, &s, &e), 0);
	assert_int_equal(s.n_routes, 0);
	/* a service tag has no destination; a Failed route is not active */
	static const char tag[] =
	    "{\"properties\":{\"routes\":[{\"name\":\"t\",\"properties\":{\"addressPrefix\":"
	    "\"AzureCloud\",\"nextHopType\":\"Internet\",\"provisioningState\":\"Failed\"}}]}}";
	memset(&s, 0, sizeof(s));
	assert_int_equal(az_parse_route_table(tag, strlen(tag), &s, &e), 0);
	assert_false(s.routes[0].has_dst);
	assert_int_equal(s.routes[0].state, CLOUD_ROUTE_OTHER);
	free(s.routes);
}

static void test_lro_and_errors(void **state)
{
	static const struct {
		const char *file;
		enum az_lro st;
	} lro[] = {{"lro_inprogress.json", AZ_LRO_RUNNING},
		   {"lro_succeeded.json", AZ_LRO_SUCCEEDED},
		   {"lro_failed.json", AZ_LRO_FAILED}};
	char code[96], msg[400], perm[96];
	enum az_lro st;
	mg_err e = {""};
	size_t len;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char *x = slurp(lro[i].file, &len);
		assert_int_equal(
		    az_parse_lro(x, len, &st, code, sizeof(code), msg, sizeof(msg), &e), 0);
		assert_int_equal(st, lro[i].st);
		free(x);
	}
	assert_string_equal(code, "InternalServerError");
	assert_int_equal(
	    az_parse_lro("{\"status\":7}", 12, &st, code, sizeof(code), msg, sizeof(msg), &e), -1);
	assert_int_equal(az_parse_lro("{}", 2, &st, code, sizeof(code), msg, sizeof(msg), &e), -1);

	static const struct {
		const char *file;
		long status;
		enum cloud_err_kind kind;
		const char *code;
	} errs[] = {
	    {"error_authorization_failed.json", 403, CLOUD_ERR_UNAUTHORIZED, "AuthorizationFailed"},
	    {"error_expired_token.json", 401, CLOUD_ERR_UNAUTHORIZED, "ExpiredAuthenticationToken"},
	    {"error_throttled.json", 429, CLOUD_ERR_THROTTLED, NULL},
	    {"error_route_limit.json", 400, CLOUD_ERR_LIMIT, NULL},
	    {"error_precondition_failed.json", 412, CLOUD_ERR_PRECONDITION, "PreconditionFailed"},
	    {"error_resource_not_found.json", 404, CLOUD_ERR_NOT_FOUND, "ResourceNotFound"},
	    {"error_another_operation.json", 409, CLOUD_ERR_TRANSIENT, NULL},
	    {"error_internal.json", 500, CLOUD_ERR_TRANSIENT, NULL},
	    {"error_missing_api_version.json", 400, CLOUD_ERR_FATAL, NULL},
	};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		struct az_err err = {.status = errs[i].status};
		char *x = slurp(errs[i].file, &len);
		assert_int_equal(az_parse_error(x, len, err.code, sizeof(err.code), err.message,
						sizeof(err.message)),
				 0);
		if (errs[i].code)
			assert_string_equal(err.code, errs[i].code);
		if (az_err_kind(&err, perm, sizeof(perm)) != errs[i].kind)
			fail_msg("%s: kind %s", errs[i].file,
				 cloud_err_kind_name(az_err_kind(&err, perm, sizeof(perm))));
		if (errs[i].kind == CLOUD_ERR_UNAUTHORIZED && errs[i].status == 403)
			assert_string_equal(perm, "Microsoft.Network/routeTables/routes/write");
		free(x);
	}
	assert_int_equal(az_parse_error("<html>", 6, code, sizeof(code), msg, sizeof(msg)), -1);
	assert_int_equal(az_parse_error("{\"error\":{}}", 12, code, sizeof(code), msg, sizeof(msg)),
			 -1);
	/* an injected action name is not taken as a permission */
	assert_false(az_denied_action("perform action 'a b; rm' over", perm, sizeof(perm)));
	assert_false(az_denied_action("perform action '", perm, sizeof(perm)));
	struct az_err aborted = {.aborted = true, .status = 429};
	assert_int_equal(az_err_kind(&aborted, perm, sizeof(perm)), CLOUD_ERR_ABORTED);
	struct az_err none = {0};
	assert_int_equal(az_err_kind(&none, perm, sizeof(perm)), CLOUD_ERR_TRANSIENT);
}

static void test_names(void **state)
{
	char name[AZ_ROUTE_NAME_MAX + 1], net[64];
	struct cidr d = C("198.51.100.0/24");

	(void)state;
	assert_int_equal(az_route_name("n-1d9d6672", &d, name, sizeof(name)), 0);
	assert_string_equal(name, "meshgate-n-1d9d6672-198.51.100.0_24");
	assert_true(az_route_name_marker(name, net, sizeof(net)));
	assert_string_equal(net, "n-1d9d6672");
	d = C("2001:db8:ffff:ffff:ffff:ffff:ffff:ff00/120");
	assert_int_equal(
	    az_route_name("a-network-id-that-is-far-too-long-for-a-name", &d, name, sizeof(name)),
	    0);
	assert_true(az_valid_name(name));
	assert_true(strlen(name) <= 80);
	assert_true(az_route_name_marker(name, net, sizeof(net)));
	assert_string_equal(net, "a-network-id-that-is-far");
	d = C("2001:db8::/32");
	assert_int_equal(az_route_name("x/y z", &d, name, sizeof(name)), 0);
	assert_string_equal(name, "meshgate-x_y_z-2001.db8.._32");
	assert_false(az_route_name_marker("onprem-legacy", net, sizeof(net)));
	assert_false(az_route_name_marker("meshgate-", net, sizeof(net)));
	assert_false(az_route_name_marker("meshgate-x-", net, sizeof(net)));
	assert_false(az_valid_name(""));
	assert_false(az_valid_name("-a"));
	assert_false(az_valid_name("a."));
	assert_true(az_valid_name("a_"));
	char longname[100];
	memset(longname, 'a', 81);
	longname[81] = '\0';
	assert_false(az_valid_name(longname));
	char part[64];
	assert_int_equal(az_rid_part("/subscriptions/S/resourceGroups/rg/providers/x",
				     "resourcegroups", part, sizeof(part)),
			 0);
	assert_string_equal(part, "rg");
	assert_int_equal(az_rid_part("/subscriptions/S", "resourceGroups", part, sizeof(part)), -1);
	/* backoff: within [base/2, cap] */
	for (int a = 0; a < 10; a++) {
		long w = az_backoff_ms(500, 8000, a, 0xffffffffu);
		assert_true(w >= 250 && w <= 8000);
	}
	assert_int_equal(az_backoff_ms(500, 8000, 0, 0), 250);
}

/* Ownership from the route name, to_us from the next hop, by the ops' classify(). */
static void test_classify(void **state)
{
	struct cloud_open_opts oo = {.mesh = {"n-1d9d6672", "c-0a0b0c0d"}};
	struct cloud_identity id = {.private_ip = "198.18.1.10"};
	struct cloud_scope s = {0};
	struct cloud_provider *p;
	mg_err e = {""};

	(void)state;
	p = cloud_azure_ops.open(&oo, &e);
	assert_non_null(p);
	struct cloud_route r = {.target_kind = CLOUD_TARGET_IP,
				.target_id = "198.18.1.10",
				.name = "meshgate-n-1d9d6672-198.51.100.0_24"};
	cloud_azure_ops.classify(p, &id, &s, &r, false);
	assert_int_equal(r.owner, CLOUD_OWNER_OURS);
	assert_true(r.to_us);
	assert_string_equal(r.marker.network, "n-1d9d6672");
	assert_string_equal(r.marker.connector, "c-0a0b0c0d");
	/* ours by name, pointing at another connector: marked with its address */
	snprintf(r.target_id, sizeof(r.target_id), "198.18.1.11");
	memset(&r.marker, 0, sizeof(r.marker));
	cloud_azure_ops.classify(p, &id, &s, &r, false);
	assert_int_equal(r.owner, CLOUD_OWNER_OURS);
	assert_false(r.to_us);
	assert_string_equal(r.marker.connector, "198.18.1.11");
	/* another mesh network's, or someone else's name: foreign even when it points at us */
	snprintf(r.target_id, sizeof(r.target_id), "198.18.1.10");
	snprintf(r.name, sizeof(r.name), "meshgate-n-ffffffff-198.51.100.0_24");
	cloud_azure_ops.classify(p, &id, &s, &r, true);
	assert_int_equal(r.owner, CLOUD_OWNER_FOREIGN);
	snprintf(r.name, sizeof(r.name), "legacy-fw");
	cloud_azure_ops.classify(p, &id, &s, &r, true);
	assert_int_equal(r.owner, CLOUD_OWNER_FOREIGN);
	assert_true(r.to_us);
	cloud_azure_ops.close(p);

	/* without a known network (down): only our names pointing at us */
	struct cloud_open_opts none = {0};
	p = cloud_azure_ops.open(&none, &e);
	assert_non_null(p);
	snprintf(r.name, sizeof(r.name), "meshgate-n-1d9d6672-198.51.100.0_24");
	cloud_azure_ops.classify(p, &id, &s, &r, true);
	assert_int_equal(r.owner, CLOUD_OWNER_OURS);
	snprintf(r.target_id, sizeof(r.target_id), "198.18.1.11");
	cloud_azure_ops.classify(p, &id, &s, &r, true);
	assert_int_equal(r.owner, CLOUD_OWNER_FOREIGN);
	cloud_azure_ops.close(p);
	assert_ptr_equal(cloud_provider_by_name("azure"), &cloud_azure_ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_imds),        cmocka_unit_test(test_token),
	    cmocka_unit_test(test_vm_nic),      cmocka_unit_test(test_vnet_subnet),
	    cmocka_unit_test(test_route_table), cmocka_unit_test(test_lro_and_errors),
	    cmocka_unit_test(test_names),       cmocka_unit_test(test_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
