/* SPDX-License-Identifier: MIT */
#include "azure_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonu.h"

static cJSON *parse(const char *buf, size_t len, const char *what, mg_err *e)
{
	cJSON *j;

	if (!buf || !len)
		return mg_err_set(e, "%s: empty answer", what), NULL;
	j = jsonu_parse(buf, len, AZ_JSON_MAX, e);
	if (!j)
		mg_err_prefix(e, "%s", what);
	return j;
}

/* A decimal string of digits only ("86399"), within [0, max]. */
static int num_str(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (!s || !*s || strlen(s) > 18)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---------------------------------------------------------------- IMDS */

int az_parse_imds(const char *buf, size_t len, struct az_imds_doc *d, mg_err *e)
{
	const cJSON *compute, *net, *ifs, *if0, *v4, *addrs, *a0;
	cJSON *j;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	j = parse(buf, len, "instance metadata", e);
	if (!j)
		return -1;
	if (jsonu_get_object(j, "compute", true, &compute, e) ||
	    jsonu_copy_str(compute, "subscriptionId", true, d->subscription,
			   sizeof(d->subscription), e) ||
	    jsonu_copy_str(compute, "resourceGroupName", true, d->resource_group,
			   sizeof(d->resource_group), e) ||
	    jsonu_copy_str(compute, "name", true, d->vm_name, sizeof(d->vm_name), e) ||
	    jsonu_copy_str(compute, "resourceId", true, d->vm_id, sizeof(d->vm_id), e) ||
	    jsonu_copy_str(compute, "location", true, d->location, sizeof(d->location), e) ||
	    jsonu_get_object(j, "network", true, &net, e) ||
	    jsonu_get_array(net, "interface", true, 64, &ifs, e))
		goto out;
	if (!d->subscription[0] || !d->resource_group[0] || !d->vm_name[0] ||
	    strncasecmp(d->vm_id, "/subscriptions/", 15)) {
		mg_err_set(e, "compute: empty subscription, resource group or name, or a "
			      "resourceId that is not an ARM id");
		goto out;
	}
	if (strchr(d->subscription, '/') || strchr(d->resource_group, '/') ||
	    strchr(d->vm_name, '/') || strchr(d->vm_id, '?') || strchr(d->vm_id, '#') ||
	    strstr(d->vm_id, "..")) {
		mg_err_set(e, "compute: a name with '/', or a resourceId with '?', '#' or '..'");
		goto out;
	}
	if0 = cJSON_GetArrayItem(ifs, 0);
	if (!cJSON_IsObject(if0)) {
		mg_err_set(e, "network.interface: no interface");
		goto out;
	}
	if (jsonu_copy_str(if0, "macAddress", true, d->mac, sizeof(d->mac), e) ||
	    jsonu_get_object(if0, "ipv4", true, &v4, e) ||
	    jsonu_get_array(v4, "ipAddress", true, 256, &addrs, e))
		goto out;
	if (!d->mac[0] || strspn(d->mac, "0123456789abcdefABCDEF-:") != strlen(d->mac)) {
		mg_err_set(e, "network.interface[0].macAddress \"%s\" is not a MAC", d->mac);
		goto out;
	}
	a0 = cJSON_GetArrayItem(addrs, 0);
	if (!cJSON_IsObject(a0)) {
		mg_err_set(e, "network.interface[0]: no IPv4 address");
		goto out;
	}
	if (jsonu_copy_str(a0, "privateIpAddress", true, d->private_ip, sizeof(d->private_ip), e))
		goto out;
	uint8_t fam, a[16];
	if (addr_parse(d->private_ip, &fam, a) < 0 || fam != AF_INET) {
		mg_err_set(e, "network.interface[0]: \"%s\" is not an IPv4 address", d->private_ip);
		goto out;
	}
	rc = 0;
out:
	if (rc)
		mg_err_prefix(e, "instance metadata");
	cJSON_Delete(j);
	return rc;
}

/* ---------------------------------------------------------------- token */

int az_parse_token(const char *buf, size_t len, struct az_token *t, mg_err *e)
{
	char on[32] = "", in[32] = "", type[32] = "";
	int64_t v;
	cJSON *j;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	j = parse(buf, len, "managed identity token", e);
	if (!j)
		return -1;
	if (jsonu_copy_str(j, "access_token", true, t->access_token, sizeof(t->access_token), e) ||
	    jsonu_copy_str(j, "expires_on", true, on, sizeof(on), e) ||
	    jsonu_copy_str(j, "expires_in", false, in, sizeof(in), e) ||
	    jsonu_copy_str(j, "token_type", false, type, sizeof(type), e)) {
		mg_err_prefix(e, "managed identity token");
		goto out;
	}
	if (!t->access_token[0] ||
	    strspn(t->access_token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789-_.~+/=") != strlen(t->access_token)) {
		mg_err_set(e, "managed identity token: access_token empty or not a token");
		goto out;
	}
	if (type[0] && strcasecmp(type, "Bearer")) {
		mg_err_set(e, "managed identity token: token_type \"%s\", not Bearer", type);
		goto out;
	}
	if (num_str(on, (int64_t)1 << 40, &v) || v == 0) {
		mg_err_set(e, "managed identity token: expires_on \"%s\" is not epoch seconds", on);
		goto out;
	}
	t->expires_on = (time_t)v;
	if (in[0]) {
		if (num_str(in, 10L * 365 * 86400, &v)) {
			mg_err_set(e, "managed identity token: expires_in \"%s\" is not seconds",
				   in);
			goto out;
		}
		t->expires_in = (long)v;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	if (rc)
		memset(t, 0, sizeof(*t));
	return rc;
}

void az_parse_imds_error(const char *buf, size_t len, char *out, size_t outlen)
{
	const char *err = NULL, *desc = NULL;
	mg_err e;
	cJSON *j;

	out[0] = '\0';
	if (!buf || !len)
		return;
	j = jsonu_parse(buf, len, AZ_JSON_MAX, &e);
	if (!j)
		return;
	if (jsonu_get_str(j, "error", false, 200, &err, &e) ||
	    jsonu_get_str(j, "error_description", false, 300, &desc, &e))
		err = desc = NULL;
	if (err || desc)
		snprintf(out, outlen, "%s%s%s", err ? err : "", err && desc ? ": " : "",
			 desc ? desc : "");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p > '~')
			*p = '?';
	cJSON_Delete(j);
}

/* ---------------------------------------------------------------- ARM resources */

static int get_props(const cJSON *j, const cJSON **props, mg_err *e)
{
	return jsonu_get_object(j, "properties", true, props, e);
}

/* A resource id we may put into a URL: ARM path characters only. */
static bool rid_ok(const char *s)
{
	if (strncasecmp(s, "/subscriptions/", 15) || strstr(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/-_.()", *p))
			return false;
	return true;
}

static int copy_rid(const cJSON *obj, const char *key, bool required, char *out, size_t outlen,
		    const char *what, mg_err *e)
{
	if (jsonu_copy_str(obj, key, required, out, outlen, e))
		return mg_err_prefix(e, "%s", what);
	if ((required || out[0]) && !rid_ok(out))
		return mg_err_set(e, "%s: \"%.120s\" is not an ARM resource id", what, out);
	return 0;
}

int az_parse_vm(const char *buf, size_t len, char nics[][AZ_RID_LEN], size_t max, size_t *n,
		mg_err *e)
{
	const cJSON *props, *np, *arr, *it;
	cJSON *j;
	int rc = -1;

	*n = 0;
	j = parse(buf, len, "virtual machine", e);
	if (!j)
		return -1;
	if (get_props(j, &props, e) || jsonu_get_object(props, "networkProfile", true, &np, e) ||
	    jsonu_get_array(np, "networkInterfaces", true, 64, &arr, e)) {
		mg_err_prefix(e, "virtual machine");
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		const cJSON *ip = NULL;
		bool primary = false;
		char id[AZ_RID_LEN];

		if (!cJSON_IsObject(it)) {
			mg_err_set(e, "virtual machine: a networkInterfaces item is not an object");
			goto out;
		}
		if (copy_rid(it, "id", true, id, sizeof(id), "virtual machine NIC", e) ||
		    jsonu_get_object(it, "properties", false, &ip, e) ||
		    (ip && jsonu_get_bool(ip, "primary", false, &primary, e)))
			goto out;
		if (*n == max) {
			mg_err_set(e, "virtual machine: more than %zu NICs", max);
			goto out;
		}
		if (primary && *n) { /* primary first */
			memmove(nics[1], nics[0], *n * AZ_RID_LEN);
			memcpy(nics[0], id, AZ_RID_LEN);
		} else {
			memcpy(nics[*n], id, AZ_RID_LEN);
		}
		(*n)++;
	}
	if (!*n) {
		mg_err_set(e, "virtual machine: no network interface");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

/* "00-0D-3A-12-01-0A", "000d3a12010a", "00:0d:..." -> "000D3A12010A" */
static void mac_norm(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 1 < outlen; in++)
		if (isxdigit((unsigned char)*in))
			out[o++] = (char)toupper((unsigned char)*in);
	out[o] = '\0';
}

int az_parse_nic(const char *buf, size_t len, const char *mac, const char *ip, struct az_nic *n,
		 mg_err *e)
{
	const cJSON *props, *cfgs, *it;
	char want_mac[32] = "", have_mac[32];
	bool first = true, locked = false;
	cJSON *j;
	int rc = -1;

	memset(n, 0, sizeof(*n));
	if (mac)
		mac_norm(mac, want_mac, sizeof(want_mac));
	j = parse(buf, len, "network interface", e);
	if (!j)
		return -1;
	if (jsonu_copy_str(j, "etag", true, n->etag, sizeof(n->etag), e) ||
	    get_props(j, &props, e) ||
	    jsonu_get_bool(props, "enableIPForwarding", false, &n->forwarding, e) ||
	    jsonu_copy_str(props, "macAddress", false, n->mac, sizeof(n->mac), e) ||
	    jsonu_get_array(props, "ipConfigurations", true, 256, &cfgs, e)) {
		mg_err_prefix(e, "network interface");
		goto out;
	}
	if (!n->etag[0] || strpbrk(n->etag, "\r\n")) {
		mg_err_set(e, "network interface: unusable etag");
		goto out;
	}
	mac_norm(n->mac, have_mac, sizeof(have_mac));
	if (want_mac[0] && !strcmp(want_mac, have_mac))
		n->matched = true;
	cJSON_ArrayForEach(it, cfgs)
	{
		const cJSON *cp, *sn;
		char addr[64] = "", sid[AZ_RID_LEN] = "";
		bool primary = false;

		if (!cJSON_IsObject(it) || get_props(it, &cp, e) ||
		    jsonu_copy_str(cp, "privateIPAddress", false, addr, sizeof(addr), e) ||
		    jsonu_get_bool(cp, "primary", false, &primary, e) ||
		    jsonu_get_object(cp, "subnet", true, &sn, e) ||
		    copy_rid(sn, "id", true, sid, sizeof(sid), "ip configuration subnet", e)) {
			if (!cJSON_IsObject(it))
				mg_err_set(e, "an ipConfigurations item is not an object");
			mg_err_prefix(e, "network interface");
			goto out;
		}
		bool ip_match = ip && ip[0] && !strcmp(ip, addr);
		if (ip_match)
			n->matched = true;
		/* the matching address, else the primary (or first) configuration */
		if (ip_match || (!locked && (first || primary))) {
			locked = ip_match;
			snprintf(n->private_ip, sizeof(n->private_ip), "%s", addr);
			snprintf(n->subnet_id, sizeof(n->subnet_id), "%s", sid);
		}
		first = false;
	}
	if (!n->subnet_id[0]) {
		mg_err_set(e, "network interface: no ip configuration");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

static int add_table(struct az_vnet *v, const char *id, mg_err *e)
{
	for (size_t i = 0; i < v->n_tables; i++)
		if (!strcasecmp(v->tables[i], id))
			return 0;
	if (v->n_tables == AZ_MAX_TABLES)
		return mg_err_set(e, "virtual network: more than %d route tables", AZ_MAX_TABLES);
	snprintf(v->tables[v->n_tables++], AZ_RID_LEN, "%s", id);
	return 0;
}

char *az_nic_with_forwarding(const char *buf, size_t len, mg_err *e)
{
	cJSON *j = jsonu_parse(buf, len, AZ_JSON_MAX, e), *props;
	char *out = NULL;

	if (!j)
		return NULL;
	props = cJSON_GetObjectItemCaseSensitive(j, "properties");
	if (!cJSON_IsObject(props)) {
		mg_err_set(e, "network interface without properties");
		goto out;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(props, "enableIPForwarding");
	if (!cJSON_AddTrueToObject(props, "enableIPForwarding")) {
		mg_err_set(e, "out of memory");
		goto out;
	}
	out = jsonu_print(j, e);
out:
	cJSON_Delete(j);
	return out;
}

int az_parse_vnet(const char *buf, size_t len, struct az_vnet *v, mg_err *e)
{
	const cJSON *props, *as, *pfx, *subnets = NULL, *it;
	cJSON *j;
	int rc = -1;

	memset(v, 0, sizeof(*v));
	j = parse(buf, len, "virtual network", e);
	if (!j)
		return -1;
	if (get_props(j, &props, e) || jsonu_get_object(props, "addressSpace", true, &as, e) ||
	    jsonu_get_array(as, "addressPrefixes", true, 4096, &pfx, e) ||
	    jsonu_get_array(props, "subnets", false, 4096, &subnets, e)) {
		mg_err_prefix(e, "virtual network");
		goto out;
	}
	cJSON_ArrayForEach(it, pfx)
	{
		if (!cJSON_IsString(it)) {
			mg_err_set(e, "virtual network: an address prefix is not a string");
			goto out;
		}
		if (v->n_prefixes == CLOUD_MAX_NET_CIDRS) {
			mg_err_set(e, "virtual network: more than %d address prefixes",
				   CLOUD_MAX_NET_CIDRS);
			goto out;
		}
		if (cidr_parse(it->valuestring, &v->prefixes[v->n_prefixes], 0, e)) {
			mg_err_prefix(e, "virtual network address space");
			goto out;
		}
		v->n_prefixes++;
	}
	if (!v->n_prefixes) {
		mg_err_set(e, "virtual network: empty address space");
		goto out;
	}
	cJSON_ArrayForEach(it, subnets)
	{
		const cJSON *sp, *rt = NULL;
		char id[AZ_RID_LEN] = "";

		if (!cJSON_IsObject(it) || get_props(it, &sp, e) ||
		    jsonu_get_object(sp, "routeTable", false, &rt, e) ||
		    (rt && copy_rid(rt, "id", true, id, sizeof(id), "subnet route table", e))) {
			if (!cJSON_IsObject(it))
				mg_err_set(e, "a subnets item is not an object");
			mg_err_prefix(e, "virtual network");
			goto out;
		}
		if (id[0] && add_table(v, id, e))
			goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

int az_parse_subnet(const char *buf, size_t len, char *table_id, size_t table_len, mg_err *e)
{
	const cJSON *props, *rt = NULL;
	cJSON *j;
	int rc = -1;

	table_id[0] = '\0';
	j = parse(buf, len, "subnet", e);
	if (!j)
		return -1;
	if (get_props(j, &props, e) || jsonu_get_object(props, "routeTable", false, &rt, e) ||
	    (rt && copy_rid(rt, "id", true, table_id, table_len, "subnet route table", e))) {
		mg_err_prefix(e, "subnet");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

static int parse_route(const cJSON *it, struct cloud_route *r, mg_err *e)
{
	const cJSON *p;
	char pfx[CIDR_STRLEN] = "", hop[64] = "", state[32] = "";

	if (!cJSON_IsObject(it))
		return mg_err_set(e, "a route is not an object");
	if (jsonu_copy_str(it, "name", true, r->name, sizeof(r->name), e) ||
	    jsonu_copy_str(it, "etag", false, r->description, sizeof(r->description), e) ||
	    get_props(it, &p, e) ||
	    jsonu_copy_str(p, "addressPrefix", false, pfx, sizeof(pfx), e) ||
	    jsonu_copy_str(p, "nextHopType", true, r->origin, sizeof(r->origin), e) ||
	    jsonu_copy_str(p, "nextHopIpAddress", false, hop, sizeof(hop), e) ||
	    jsonu_copy_str(p, "provisioningState", false, state, sizeof(state), e))
		return mg_err_prefix(e, "route %s", r->name[0] ? r->name : "?");
	if (!az_valid_name(r->name))
		return mg_err_set(e, "route name \"%.90s\" is not a valid ARM name", r->name);
	/* service tags ("AzureCloud") and other non-CIDR prefixes: no destination */
	if (pfx[0] && strchr(pfx, '/')) {
		if (cidr_parse(pfx, &r->dst, 0, e))
			return mg_err_prefix(e, "route %s", r->name);
		r->has_dst = true;
	}
	if (!strcmp(r->origin, "VirtualAppliance")) {
		r->target_kind = CLOUD_TARGET_IP;
		snprintf(r->target_id, sizeof(r->target_id), "%s", hop);
	} else {
		r->target_kind = !strcmp(r->origin, "VirtualNetworkGateway") ? CLOUD_TARGET_GATEWAY
									     : CLOUD_TARGET_OTHER;
		snprintf(r->target_id, sizeof(r->target_id), "%s", r->origin);
	}
	/* "Updating" is a write being applied (Azure shows it at once): treat as there */
	if (!state[0] || !strcmp(state, "Succeeded") || !strcmp(state, "Updating"))
		r->state = CLOUD_ROUTE_ACTIVE;
	else
		r->state = CLOUD_ROUTE_OTHER;
	return 0;
}

int az_parse_route_table(const char *buf, size_t len, struct cloud_scope *s, mg_err *e)
{
	const cJSON *props, *routes = NULL, *it;
	cJSON *j;
	int rc = -1;

	j = parse(buf, len, "route table", e);
	if (!j)
		return -1;
	if (jsonu_copy_str(j, "etag", false, s->version, sizeof(s->version), e) ||
	    get_props(j, &props, e) ||
	    jsonu_get_array(props, "routes", false, CLOUD_MAX_ROUTES, &routes, e)) {
		mg_err_prefix(e, "route table");
		goto out;
	}
	cJSON_ArrayForEach(it, routes)
	{
		struct cloud_route *r = cloud_scope_add_route(s, e);
		if (!r || parse_route(it, r, e)) {
			mg_err_prefix(e, "route table");
			goto out;
		}
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

int az_parse_lro(const char *buf, size_t len, enum az_lro *st, char *code, size_t code_len,
		 char *msg, size_t msg_len, mg_err *e)
{
	char status[32];
	const cJSON *err = NULL;
	cJSON *j;
	int rc = -1;

	code[0] = msg[0] = '\0';
	j = parse(buf, len, "operation status", e);
	if (!j)
		return -1;
	if (jsonu_copy_str(j, "status", true, status, sizeof(status), e) ||
	    jsonu_get_object(j, "error", false, &err, e)) {
		mg_err_prefix(e, "operation status");
		goto out;
	}
	if (!strcmp(status, "Succeeded")) {
		*st = AZ_LRO_SUCCEEDED;
	} else if (!strcmp(status, "Failed") || !strcmp(status, "Canceled")) {
		*st = AZ_LRO_FAILED;
		snprintf(code, code_len, "%s", status);
		if (err) {
			const char *c = NULL, *m = NULL;
			mg_err ig;
			if (!jsonu_get_str(err, "code", false, 120, &c, &ig) && c)
				snprintf(code, code_len, "%s", c);
			if (!jsonu_get_str(err, "message", false, 4096, &m, &ig) && m)
				snprintf(msg, msg_len, "%s", m);
		}
	} else {
		*st = AZ_LRO_RUNNING; /* any other value means still running */
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s > '~')
			*s = '?';
}

int az_parse_error(const char *buf, size_t len, char *code, size_t code_len, char *msg,
		   size_t msg_len)
{
	const cJSON *err;
	const char *c = NULL, *m = NULL;
	mg_err e;
	cJSON *j;
	int rc = -1;

	code[0] = msg[0] = '\0';
	if (!buf || !len)
		return -1;
	j = jsonu_parse(buf, len, AZ_JSON_MAX, &e);
	if (!j)
		return -1;
	if (!jsonu_get_object(j, "error", true, &err, &e) &&
	    !jsonu_get_str(err, "code", true, 120, &c, &e) &&
	    !jsonu_get_str(err, "message", false, 4096, &m, &e)) {
		snprintf(code, code_len, "%s", c);
		snprintf(msg, msg_len, "%s", m ? m : "");
		printable(code);
		printable(msg);
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

bool az_denied_action(const char *msg, char *out, size_t outlen)
{
	const char *p = strstr(msg, "perform action '"), *q;

	out[0] = '\0';
	if (!p)
		return false;
	p += strlen("perform action '");
	q = strchr(p, '\'');
	if (!q || q == p || (size_t)(q - p) >= outlen)
		return false;
	for (const char *c = p; c < q; c++)
		if (!isalnum((unsigned char)*c) && !strchr("/._-", *c))
			return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return true;
}

/* ---------------------------------------------------------------- names */

bool az_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > AZ_ROUTE_NAME_MAX || !isalnum((unsigned char)s[0]) ||
	    !(isalnum((unsigned char)s[n - 1]) || s[n - 1] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

void az_name_network(const char *network, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *network && o + 1 < outlen && o < AZ_NET_IN_NAME; network++) {
		char c = *network;
		out[o++] = isalnum((unsigned char)c) || c == '_' || c == '.' ? c
			   : c == '-'                                        ? '-'
									     : '_';
	}
	out[o] = '\0';
}

int az_route_name(const char *network, const struct cidr *dst, char *out, size_t outlen)
{
	char net[AZ_NET_IN_NAME + 1], d[CIDR_STRLEN];
	int n;

	az_name_network(network && network[0] ? network : "mesh", net, sizeof(net));
	cidr_format(dst, d);
	for (char *p = d; *p; p++)
		if (*p == '/')
			*p = '_';
		else if (*p == ':')
			*p = '.';
	n = snprintf(out, outlen, AZ_ROUTE_PREFIX "%s-%s", net, d);
	if (n < 0 || (size_t)n >= outlen || !az_valid_name(out))
		return -1;
	return 0;
}

bool az_route_name_marker(const char *name, char *network, size_t netlen)
{
	const char *rest, *dash;
	size_t pl = strlen(AZ_ROUTE_PREFIX);

	network[0] = '\0';
	if (strncmp(name, AZ_ROUTE_PREFIX, pl))
		return false;
	rest = name + pl;
	dash = strrchr(rest, '-'); /* the destination part has no '-' */
	if (!dash || dash == rest || !dash[1] || (size_t)(dash - rest) >= netlen)
		return false;
	memcpy(network, rest, (size_t)(dash - rest));
	network[dash - rest] = '\0';
	return true;
}

const char *az_rid_name(const char *rid)
{
	const char *s = strrchr(rid, '/');
	return s ? s + 1 : rid;
}

int az_rid_part(const char *rid, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);

	out[0] = '\0';
	for (const char *p = rid; (p = strchr(p, '/')); p++) {
		if (!strncasecmp(p + 1, key, kl) && p[1 + kl] == '/') {
			const char *v = p + 2 + kl, *end = strchr(v, '/');
			size_t n = end ? (size_t)(end - v) : strlen(v);
			if (!n || n >= outlen)
				return -1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
	}
	return -1;
}
