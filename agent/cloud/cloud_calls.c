/* SPDX-License-Identifier: MIT */
#include "cloud_calls.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *provider, *action;
} slots[] = {
    /* EC2 Query API actions (aws_ec2.c) */
    {"aws", "DescribeRouteTables"},
    {"aws", "CreateRoute"},
    {"aws", "ReplaceRoute"},
    {"aws", "DeleteRoute"},
    {"aws", "DescribeNetworkInterfaceAttribute"},
    {"aws", "ModifyNetworkInterfaceAttribute"},
    {"aws", "other"},
    /* ARM: method and resource type (azure.c, azure_arm.c; operations = LRO polls) */
    {"azure", "GET virtualMachines"},
    {"azure", "GET networkInterfaces"},
    {"azure", "PUT networkInterfaces"},
    {"azure", "GET subnets"},
    {"azure", "GET virtualNetworks"},
    {"azure", "GET routeTables"},
    {"azure", "PUT routes"},
    {"azure", "DELETE routes"},
    {"azure", "GET operations"},
    {"azure", "GET operationResults"},
    {"azure", "other"},
    /* Compute Engine API methods (gcp_compute.c) */
    {"gcp", "routes.list"},
    {"gcp", "routes.get"},
    {"gcp", "routes.insert"},
    {"gcp", "routes.delete"},
    {"gcp", "instances.get"},
    {"gcp", "globalOperations.wait"},
    {"gcp", "globalOperations.get"},
    {"gcp", "other"},
    /* OCI Networking API operations (oci.c, the rows of oci_grants) */
    {"oci", "GetVnic"},
    {"oci", "UpdateVnic"},
    {"oci", "ListPrivateIps"},
    {"oci", "GetSubnet"},
    {"oci", "ListSubnets"},
    {"oci", "GetVcn"},
    {"oci", "GetRouteTable"},
    {"oci", "UpdateRouteTable"},
    {"oci", "other"},
};
_Static_assert(sizeof(slots) / sizeof(slots[0]) <= CLOUD_CALL_SLOTS, "CLOUD_CALL_SLOTS too small");

static const char *const result_names[CLOUD_CALL_RESULTS] = {
    [CLOUD_CALL_OK] = "ok",
    [CLOUD_CALL_THROTTLED] = "throttled",
    [CLOUD_CALL_DENIED] = "denied",
    [CLOUD_CALL_CLIENT_ERROR] = "client_error",
    [CLOUD_CALL_SERVER_ERROR] = "server_error",
    [CLOUD_CALL_NO_ANSWER] = "no_answer",
};

unsigned cloud_call_slots(void)
{
	return (unsigned)(sizeof(slots) / sizeof(slots[0]));
}

void cloud_call_slot_name(unsigned slot, const char **provider, const char **action)
{
	bool ok = slot < cloud_call_slots();

	*provider = ok ? slots[slot].provider : "?";
	*action = ok ? slots[slot].action : "?";
}

int cloud_call_slot(const char *provider, const char *action)
{
	int other = -1;

	for (unsigned i = 0; provider && i < cloud_call_slots(); i++) {
		if (strcmp(slots[i].provider, provider))
			continue;
		if (action && !strcmp(slots[i].action, action))
			return (int)i;
		if (!strcmp(slots[i].action, "other"))
			other = (int)i;
	}
	return other;
}

const char *cloud_call_result_name(enum cloud_call_result r)
{
	return (unsigned)r < CLOUD_CALL_RESULTS ? result_names[r] : "?";
}

enum cloud_call_result cloud_call_result_of(long http_status, bool throttled)
{
	if (http_status <= 0)
		return CLOUD_CALL_NO_ANSWER;
	if (http_status == 429 || throttled)
		return CLOUD_CALL_THROTTLED;
	if (http_status >= 200 && http_status < 300)
		return CLOUD_CALL_OK;
	if (http_status == 401 || http_status == 403)
		return CLOUD_CALL_DENIED;
	if (http_status >= 500)
		return CLOUD_CALL_SERVER_ERROR;
	return CLOUD_CALL_CLIENT_ERROR; /* 4xx, and 1xx/3xx that the drivers never follow */
}

void cloud_call_count(const struct cloud_hooks *h, const char *provider, const char *action,
		      long http_status, bool throttled)
{
	int slot;

	if (!h || !h->api_call)
		return;
	slot = cloud_call_slot(provider, action);
	if (slot >= 0)
		h->api_call(h->ud, (unsigned)slot, cloud_call_result_of(http_status, throttled));
}

/* The path segments of `url` (scheme and host dropped, query cut) into seg[]; their count. */
static size_t segments(const char *url, char seg[][64], size_t max)
{
	const char *p = url, *q;
	size_t n = 0;

	if ((q = strstr(p, "://")) != NULL) {
		p = strchr(q + 3, '/');
		if (!p)
			return 0;
	}
	while (*p && *p != '?' && *p != '#' && n < max) {
		size_t l;
		while (*p == '/')
			p++;
		l = strcspn(p, "/?#");
		if (!l)
			break;
		snprintf(seg[n++], 64, "%.*s", (int)(l > 63 ? 63 : l), p);
		p += l;
	}
	return n;
}

void cloud_call_azure_action(const char *method, const char *url, char *out, size_t len)
{
	char seg[24][64];
	size_t n = segments(url, seg, 24), ns = n, type = n;

	/* /subscriptions/S/resourceGroups/G/providers/NS/type/name/type/name...: the last
	 * type (a list ends with a type); no provider: subscriptions/resourceGroups pairs */
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(seg[i], "providers") && i + 1 < n)
			ns = i + 2;
	if (ns > n) /* "providers" was the last but one segment */
		ns = n;
	if (ns < n)
		type = ns + ((n - ns - 1) & ~(size_t)1);
	snprintf(out, len, "%s %s", method, type < n ? seg[type] : "?");
}

void cloud_call_gcp_action(const char *method, const char *path, char *out, size_t len)
{
	char seg[16][64];
	size_t n = segments(path, seg, 16);
	const char *coll = NULL, *verb = NULL;
	bool named = false;

	/* [projects/P/](global|regions/R|zones/Z)/COLLECTION[/NAME[/CUSTOM]] */
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(seg[i], "routes") || !strcmp(seg[i], "instances") ||
		    !strcmp(seg[i], "operations")) {
			coll = seg[i];
			named = i + 1 < n;
			if (i + 2 < n)
				verb = seg[i + 2];
			break;
		}
	}
	if (!coll) {
		snprintf(out, len, "other");
		return;
	}
	if (!strcmp(coll, "operations")) {
		snprintf(out, len, "globalOperations.%s", verb ? verb : "get");
		return;
	}
	if (!strcmp(method, "GET"))
		verb = named ? "get" : "list";
	else if (!strcmp(method, "POST") && !named)
		verb = "insert";
	else if (!strcmp(method, "DELETE"))
		verb = "delete";
	else if (!verb)
		verb = "?";
	snprintf(out, len, "%s.%s", coll, verb);
}
