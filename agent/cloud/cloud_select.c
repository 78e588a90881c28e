/* SPDX-License-Identifier: MIT */
/* The cloud selection options: one parser, one resolver (cloud_select.h). */
#include "cloud_select.h"

#include <string.h>

const char *const cloud_select_options[] = {
    "cloud",       "cloud-metadata",        "cloud-api", "cloud-ca-file",
    "cloud-sysfs", "cloud-azure-client-id", NULL,
};

/* "cloud_ca_file" and "cloud-ca-file" are the same name */
static bool same_name(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
		if (x != y)
			return false;
	}
	return !*a && !*b;
}

static int copy(char *dst, size_t len, const char *v, mg_err *e)
{
	size_t n = strlen(v);

	if (n >= len)
		return mg_err_set(e, "is longer than %zu characters", len - 1);
	memcpy(dst, v, n + 1);
	return 1;
}

int cloud_select_set(struct cloud_select *s, const char *name, const char *v, mg_err *e)
{
	if (same_name(name, "cloud")) {
		if (strcmp(v, "auto") && strcmp(v, "none") && !cloud_provider_by_name(v))
			return mg_err_set(e, "is auto, none or a provider (%s), not \"%s\"",
					  cloud_provider_names(), v);
		return copy(s->provider, sizeof(s->provider), v, e);
	}
	if (same_name(name, "cloud-metadata"))
		return copy(s->ep.metadata, sizeof(s->ep.metadata), v, e);
	if (same_name(name, "cloud-api"))
		return copy(s->ep.api, sizeof(s->ep.api), v, e);
	if (same_name(name, "cloud-ca-file"))
		return copy(s->ep.ca_file, sizeof(s->ep.ca_file), v, e);
	if (same_name(name, "cloud-sysfs"))
		return copy(s->sysfs_root, sizeof(s->sysfs_root), v, e);
	if (same_name(name, "cloud-azure-client-id")) {
		/* "" = the system-assigned identity again */
		if (v[0] && strspn(v, "0123456789abcdefABCDEF-") != strlen(v))
			return mg_err_set(e, "is a client id (GUID), not \"%s\"", v);
		return copy(s->ep.identity, sizeof(s->ep.identity), v, e);
	}
	return 0;
}

enum cloud_select_result cloud_select_resolve(const struct cloud_select *s, long probe_ms,
					      const struct cloud_provider_ops **ops, mg_err *why)
{
	const char *name = s->provider[0] ? s->provider : "auto";

	*ops = NULL;
	if (!strcmp(name, "none")) {
		mg_err_set(why, "cloud provider none");
		return CLOUD_SELECT_OFF;
	}
	if (strcmp(name, "auto")) {
		*ops = cloud_provider_by_name(name);
		if (*ops)
			return CLOUD_SELECT_FOUND;
		mg_err_set(why, "unknown cloud provider %.40s (this build has %s)", name,
			   cloud_provider_names());
		return CLOUD_SELECT_UNKNOWN;
	}
	*ops = cloud_detect(s->sysfs_root[0] ? s->sysfs_root : NULL, &s->ep, probe_ms, why);
	if (*ops)
		return CLOUD_SELECT_FOUND;
	if (!why->msg[0])
		mg_err_set(why, "no provider detected");
	return CLOUD_SELECT_NOCLOUD;
}
