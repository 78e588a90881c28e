/* SPDX-License-Identifier: MIT */
/* Cloud API request accounting (cloud_calls.h): the action names of ARM and Compute
 * requests, the fixed table (an unknown action is the provider's "other"), result classes,
 * and cloud_call_count() reaching the hook with the row and the class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cloud_calls.h"

static void azure_actions(void **st)
{
	static const char *const cases[][3] = {
	    {"GET",
	     "https://management.azure.com/subscriptions/s/resourceGroups/g/providers/"
	     "Microsoft.Compute/virtualMachines/vm1?api-version=2024-07-01",
	     "GET virtualMachines"},
	    {"PUT",
	     "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/routeTables/rt/"
	     "routes/meshgate-n-10.0.0.0_8?api-version=2024-05-01",
	     "PUT routes"},
	    /* a table named like a type is still a table */
	    {"GET",
	     "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/routeTables/routes"
	     "?api-version=2024-05-01",
	     "GET routeTables"},
	    {"GET",
	     "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/"
	     "virtualMachineScaleSets/ss/virtualMachines/0/networkInterfaces/nic?x=1",
	     "GET networkInterfaces"},
	    {"GET",
	     "https://h:8443/subscriptions/s/providers/Microsoft.Network/locations/westeurope/"
	     "operations/abc?api-version=2024-05-01",
	     "GET operations"},
	    {"GET", "/subscriptions/s/providers/Microsoft.Network/routeTables?api-version=1",
	     "GET routeTables"},
	    {"GET", "https://h", "GET ?"},
	};
	char out[80];

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cloud_call_azure_action(cases[i][0], cases[i][1], out, sizeof(out));
		assert_string_equal(out, cases[i][2]);
	}
}

static void gcp_actions(void **st)
{
	static const char *const cases[][3] = {
	    {"GET", "global/routes?maxResults=500", "routes.list"},
	    {"GET", "global/routes/meshgate-x", "routes.get"},
	    {"POST", "global/routes?requestId=1234", "routes.insert"},
	    {"DELETE", "global/routes/meshgate-x?requestId=1", "routes.delete"},
	    {"POST", "global/operations/op-1/wait", "globalOperations.wait"},
	    {"GET", "global/operations/op-1", "globalOperations.get"},
	    {"GET", "zones/europe-west1-b/instances/vm", "instances.get"},
	    {"GET", "global/networks/default", "other"},
	};
	char out[64];

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cloud_call_gcp_action(cases[i][0], cases[i][1], out, sizeof(out));
		assert_string_equal(out, cases[i][2]);
	}
}

static void table_and_results(void **st)
{
	const char *p, *a;
	int s;

	(void)st;
	s = cloud_call_slot("aws", "CreateRoute");
	assert_true(s >= 0);
	cloud_call_slot_name((unsigned)s, &p, &a);
	assert_string_equal(p, "aws");
	assert_string_equal(a, "CreateRoute");
	s = cloud_call_slot("aws", "TerminateInstances"); /* not ours: bounded labels */
	cloud_call_slot_name((unsigned)s, &p, &a);
	assert_string_equal(a, "other");
	assert_string_equal(p, "aws");
	cloud_call_slot_name((unsigned)cloud_call_slot("oci", "UpdateRouteTable"), &p, &a);
	assert_string_equal(a, "UpdateRouteTable");
	assert_int_equal(cloud_call_slot("nimbus", "x"), -1);
	assert_true(cloud_call_slots() <= CLOUD_CALL_SLOTS);

	assert_int_equal(cloud_call_result_of(200, false), CLOUD_CALL_OK);
	assert_int_equal(cloud_call_result_of(204, false), CLOUD_CALL_OK);
	assert_int_equal(cloud_call_result_of(429, false), CLOUD_CALL_THROTTLED);
	assert_int_equal(cloud_call_result_of(503, true), CLOUD_CALL_THROTTLED);
	assert_int_equal(cloud_call_result_of(503, false), CLOUD_CALL_SERVER_ERROR);
	assert_int_equal(cloud_call_result_of(403, false), CLOUD_CALL_DENIED);
	assert_int_equal(cloud_call_result_of(401, false), CLOUD_CALL_DENIED);
	assert_int_equal(cloud_call_result_of(412, false), CLOUD_CALL_CLIENT_ERROR);
	assert_int_equal(cloud_call_result_of(0, false), CLOUD_CALL_NO_ANSWER);
	assert_string_equal(cloud_call_result_name(CLOUD_CALL_NO_ANSWER), "no_answer");
}

static unsigned seen_slot;
static enum cloud_call_result seen_res;
static int seen_n;

static void on_call(void *ud, unsigned slot, enum cloud_call_result res)
{
	(void)ud;
	seen_slot = slot;
	seen_res = res;
	seen_n++;
}

static void count_reaches_hook(void **st)
{
	struct cloud_hooks h = {.api_call = on_call};

	(void)st;
	cloud_call_count(&h, "azure", "PUT routes", 201, false);
	assert_int_equal(seen_n, 1);
	assert_int_equal(seen_slot, cloud_call_slot("azure", "PUT routes"));
	assert_int_equal(seen_res, CLOUD_CALL_OK);
	cloud_call_count(&h, "gcp", "routes.insert", 403, true);
	assert_int_equal(seen_res, CLOUD_CALL_THROTTLED);
	cloud_call_count(&h, "nimbus", "x", 200, false); /* no row: not counted */
	cloud_call_count(NULL, "aws", "CreateRoute", 200, false);
	cloud_call_count(&(struct cloud_hooks){0}, "aws", "CreateRoute", 200, false);
	assert_int_equal(seen_n, 2);
}

int main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test(azure_actions),
	    cmocka_unit_test(gcp_actions),
	    cmocka_unit_test(table_and_results),
	    cmocka_unit_test(count_reaches_hook),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
