/* SPDX-License-Identifier: MIT */
#include "cloud.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"

static const char *const kind_names[CLOUD_ERR_KINDS] = {
    [CLOUD_OK] = "ok",
    [CLOUD_ERR_THROTTLED] = "throttled",
    [CLOUD_ERR_UNAUTHORIZED] = "unauthorized",
    [CLOUD_ERR_LIMIT] = "limit reached",
    [CLOUD_ERR_NOT_FOUND] = "not found",
    [CLOUD_ERR_CONFLICT] = "conflict",
    [CLOUD_ERR_PRECONDITION] = "changed under us",
    [CLOUD_ERR_TRANSIENT] = "transient",
    [CLOUD_ERR_FATAL] = "fatal",
    [CLOUD_ERR_ABORTED] = "aborted",
};

const char *cloud_err_kind_name(enum cloud_err_kind k)
{
	return (unsigned)k < CLOUD_ERR_KINDS ? kind_names[k] : "?";
}

int cloud_err_set(struct cloud_err *ce, enum cloud_err_kind kind, const char *perm, const char *fmt,
		  ...)
{
	va_list ap;

	if (!ce)
		return -1;
	ce->kind = kind;
	snprintf(ce->permission, sizeof(ce->permission), "%s", perm ? perm : "");
	va_start(ap, fmt);
	vsnprintf(ce->e.msg, sizeof(ce->e.msg), fmt, ap);
	va_end(ap);
	return -1;
}

bool cloud_aborted(const struct cloud_hooks *h)
{
	return h && h->aborted && h->aborted(h->ud);
}

bool cloud_may_write(const struct cloud_hooks *h)
{
	return !h || !h->may_write || h->may_write(h->ud);
}

bool cloud_sleep_ms(const struct cloud_hooks *h, long ms)
{
	while (ms > 0) {
		long slice = ms > 100 ? 100 : ms;
		struct timespec ts = {0, slice * 1000000L};

		if (cloud_aborted(h))
			return false;
		while (nanosleep(&ts, &ts) == -1)
			;
		ms -= slice;
	}
	return !cloud_aborted(h);
}

void cloud_scopes_free(struct cloud_scopes *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].routes);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

struct cloud_scope *cloud_scopes_add(struct cloud_scopes *s, mg_err *e)
{
	if (mg_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v), CLOUD_MAX_SCOPES, e) < 0)
		return mg_err_prefix(e, "route tables"), NULL;
	memset(&s->v[s->n], 0, sizeof(s->v[0]));
	return &s->v[s->n++];
}

struct cloud_route *cloud_scope_add_route(struct cloud_scope *s, mg_err *e)
{
	if (mg_grow((void **)&s->routes, &s->routes_cap, s->n_routes + 1, sizeof(*s->routes),
		    CLOUD_MAX_ROUTES, e) < 0)
		return mg_err_prefix(e, "routes in %s", s->id[0] ? s->id : "one table"), NULL;
	memset(&s->routes[s->n_routes], 0, sizeof(s->routes[0]));
	return &s->routes[s->n_routes++];
}

const struct cloud_route *cloud_scope_find(const struct cloud_scope *s, const struct cidr *dst)
{
	for (size_t i = 0; i < s->n_routes; i++)
		if (s->routes[i].has_dst && cidr_equal(&s->routes[i].dst, dst))
			return &s->routes[i];
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

const struct cloud_provider_ops *
cloud_detect(const char *sysfs_root, const struct cloud_endpoints *ep, long probe_ms, mg_err *why)
{
	static const struct cloud_endpoints none;
	enum cloud_hint h = cloud_dmi_hint(sysfs_root);

	if (!ep)
		ep = &none;
	/* a configured metadata endpoint means "probe it" even without DMI hints (tests,
	 * nested virtualisation); otherwise a host whose DMI names no cloud costs nothing */
	if (h == CLOUD_HINT_NONE && !ep->metadata[0]) {
		mg_err_set(why, "DMI names no provider");
		return NULL;
	}
	if (h == CLOUD_HINT_AWS || h == CLOUD_HINT_NONE) {
		if (cloud_aws_ops.detect(ep, probe_ms) == 1)
			return &cloud_aws_ops;
		if (h == CLOUD_HINT_NONE && cloud_azure_ops.detect(ep, probe_ms) == 1)
			return &cloud_azure_ops;
		if (h == CLOUD_HINT_NONE && cloud_gcp_ops.detect(ep, probe_ms) == 1)
			return &cloud_gcp_ops;
		/* last: OCI's IMDS v2 (GET /opc/v2/instance/ with "Authorization: Bearer
		 * Oracle"), bounded like the others, asked only when no other one answered */
		if (h == CLOUD_HINT_NONE && cloud_oci_ops.detect(ep, probe_ms) == 1)
			return &cloud_oci_ops;
		mg_err_set(why, "%s: the instance metadata service did not answer within %ld ms",
			   h == CLOUD_HINT_AWS ? "DMI says AWS" : "configured metadata endpoint",
			   probe_ms);
		return NULL;
	}
	if (h == CLOUD_HINT_OCI) {
		if (cloud_oci_ops.detect(ep, probe_ms) == 1)
			return &cloud_oci_ops;
		mg_err_set(why,
			   "DMI says Oracle Cloud: the instance metadata service did not "
			   "answer within %ld ms",
			   probe_ms);
		return NULL;
	}
	if (h == CLOUD_HINT_GCP) {
		if (cloud_gcp_ops.detect(ep, probe_ms) == 1)
			return &cloud_gcp_ops;
		mg_err_set(why, "DMI says GCP: the metadata server did not answer within %ld ms",
			   probe_ms);
		return NULL;
	}
	if (h == CLOUD_HINT_AZURE) {
		if (cloud_azure_ops.detect(ep, probe_ms) == 1)
			return &cloud_azure_ops;
		mg_err_set(why,
			   "DMI says Azure: the instance metadata service did not answer "
			   "within %ld ms",
			   probe_ms);
		return NULL;
	}
	mg_err_set(why, "DMI says %s, for which meshgate has no provider yet", cloud_hint_name(h));
	return NULL;
}

/* Every provider meshgate has: the one list to add a driver to. */
static const struct cloud_provider_ops *const all_providers[] = {
    &cloud_aws_ops,
    &cloud_azure_ops,
    &cloud_gcp_ops,
    &cloud_oci_ops,
};

const struct cloud_provider_ops *cloud_provider_by_name(const char *name)
{
	for (size_t i = 0; i < MG_ARRAY_SIZE(all_providers); i++)
		if (!strcmp(all_providers[i]->name, name))
			return all_providers[i];
	return NULL;
}

const char *cloud_provider_names(void)
{
	static char names[128];

	if (!names[0]) {
		size_t off = 0;
		for (size_t i = 0; i < MG_ARRAY_SIZE(all_providers) && off < sizeof(names); i++)
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						i ? ", " : "", all_providers[i]->name);
	}
	return names;
}

int cloud_base_url(char *out, size_t len, const char *given, const char *dflt, const char *what,
		   mg_err *e)
{
	int n = snprintf(out, len, "%s", given && given[0] ? given : dflt);

	if (n < 0 || (size_t)n >= len)
		return mg_err_set(e, "%s too long", what);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	if (strncmp(out, "http://", 7) && strncmp(out, "https://", 8))
		return mg_err_set(e, "%s %s must be http:// or https://", what, out);
	return 0;
}
