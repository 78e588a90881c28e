/* SPDX-License-Identifier: MIT */
#include "cloud.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cloud_route_tables_free(struct cloud_route_tables *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].routes);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

struct cloud_route_table *cloud_route_tables_add(struct cloud_route_tables *t, mg_err *e)
{
	if (t->n >= CLOUD_MAX_TABLES)
		return mg_err_set(e, "more than %d route tables", CLOUD_MAX_TABLES), NULL;
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 8;
		struct cloud_route_table *nv = realloc(t->v, ncap * sizeof(*nv));
		if (!nv)
			return mg_err_set(e, "out of memory"), NULL;
		t->v = nv;
		t->cap = ncap;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	return &t->v[t->n++];
}

struct cloud_route *cloud_route_table_add(struct cloud_route_table *rt, mg_err *e)
{
	struct cloud_route *nv;

	if (rt->n_routes >= CLOUD_MAX_ROUTES)
		return mg_err_set(e, "more than %d routes in one table", CLOUD_MAX_ROUTES), NULL;
	/* grow by powers of two: n is a power of two exactly when the array is full */
	if (!rt->n_routes || !(rt->n_routes & (rt->n_routes - 1))) {
		size_t ncap = rt->n_routes ? rt->n_routes * 2 : 1;
		nv = realloc(rt->routes, ncap * sizeof(*nv));
		if (!nv)
			return mg_err_set(e, "out of memory"), NULL;
		rt->routes = nv;
	}
	memset(&rt->routes[rt->n_routes], 0, sizeof(rt->routes[0]));
	return &rt->routes[rt->n_routes++];
}

const struct cloud_route *cloud_route_table_find(const struct cloud_route_table *rt,
						 const struct cidr *dst)
{
	for (size_t i = 0; i < rt->n_routes; i++)
		if (rt->routes[i].has_dst && cidr_equal(&rt->routes[i].dst, dst))
			return &rt->routes[i];
	return NULL;
}

static void read_dmi(const char *root, const char *name, char *out, size_t outlen)
{
	char path[512];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/class/dmi/id/%s", root, name);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(out, (int)outlen, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
}

static bool has(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

enum cloud_hint cloud_dmi_hint(const char *sysfs_root)
{
	char sys_vendor[128], product[128], board_tag[128], bios_vendor[128], bios_version[128],
		chassis_tag[128];
	const char *root = sysfs_root && sysfs_root[0] ? sysfs_root : "/sys";

	read_dmi(root, "sys_vendor", sys_vendor, sizeof(sys_vendor));
	read_dmi(root, "product_name", product, sizeof(product));
	read_dmi(root, "board_asset_tag", board_tag, sizeof(board_tag));
	read_dmi(root, "bios_vendor", bios_vendor, sizeof(bios_vendor));
	read_dmi(root, "bios_version", bios_version, sizeof(bios_version));
	read_dmi(root, "chassis_asset_tag", chassis_tag, sizeof(chassis_tag));

	/* Nitro: sys_vendor/bios_vendor "Amazon EC2", board_asset_tag the instance id;
	 * Xen: bios_version "4.x.amazon" */
	if (has(sys_vendor, "Amazon EC2") || has(bios_vendor, "Amazon EC2") ||
	    has(bios_version, "amazon") ||
	    (!strncmp(board_tag, "i-", 2) && strspn(board_tag + 2, "0123456789abcdef") >= 8))
		return CLOUD_HINT_AWS;
	if (has(sys_vendor, "Google") || has(product, "Google Compute Engine"))
		return CLOUD_HINT_GCP;
	if (!strcmp(chassis_tag, "7783-7084-3265-9085-8269-3286-77") ||
	    (has(sys_vendor, "Microsoft Corporation") && has(product, "Virtual Machine")))
		return CLOUD_HINT_AZURE;
	if (has(chassis_tag, "OracleCloud.com"))
		return CLOUD_HINT_OCI;
	return CLOUD_HINT_NONE;
}

const char *cloud_hint_name(enum cloud_hint h)
{
	switch (h) {
	case CLOUD_HINT_AWS:
		return "AWS";
	case CLOUD_HINT_AZURE:
		return "Azure";
	case CLOUD_HINT_GCP:
		return "GCP";
	case CLOUD_HINT_OCI:
		return "Oracle Cloud";
	default:
		return "none";
	}
}

const struct cloud_provider_ops *cloud_detect(const char *sysfs_root,
					      const struct cloud_endpoints *ep, long probe_ms,
					      mg_err *why)
{
	static const struct cloud_endpoints none;
	enum cloud_hint h = cloud_dmi_hint(sysfs_root);

	if (!ep)
		ep = &none;
	/* a configured metadata endpoint means "probe it" even without DMI hints (tests,
	 * nested virtualisation); otherwise a host whose DMI names no cloud costs nothing */
	if (h == CLOUD_HINT_NONE && !ep->metadata[0]) {
		mg_err_set(why, "not a cloud VM (DMI names no provider)");
		return NULL;
	}
	if (h == CLOUD_HINT_AWS || h == CLOUD_HINT_NONE) {
		if (cloud_aws_ops.detect(ep, probe_ms) == 1)
			return &cloud_aws_ops;
		mg_err_set(why, "%s: the instance metadata service did not answer within %ld ms",
			   h == CLOUD_HINT_AWS ? "DMI says AWS" : "configured metadata endpoint",
			   probe_ms);
		return NULL;
	}
	mg_err_set(why, "DMI says %s, for which meshgate has no provider yet", cloud_hint_name(h));
	return NULL;
}
