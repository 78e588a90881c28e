/* SPDX-License-Identifier: MIT */
/*
 * Which cloud a command talks to: what --cloud, --cloud-metadata, --cloud-api,
 * --cloud-ca-file, --cloud-sysfs and --cloud-azure-client-id select. One parser and one
 * resolver for `meshgate run` (flags and settings file), `check` and `doctor`, so the three
 * accept the same values with the same messages and pick the provider the same way.
 */
#ifndef MG_CLOUD_SELECT_H
#define MG_CLOUD_SELECT_H

#include <stdbool.h>

#include "cloud.h"

struct cloud_select {
	char provider[16];               /* "auto" (also ""), "none" or a provider's name */
	struct cloud_endpoints ep;       /* "" = the provider's defaults */
	char sysfs_root[CLOUD_PATH_LEN]; /* DMI root; "" = /sys (tests point it elsewhere) */
};

/* The options' long names, NULL-terminated; the settings file spells them with '_'. */
extern const char *const cloud_select_options[];

/*
 * Set the option called `name` ("cloud-api" or "cloud_api") to `value`. Returns 1 when it
 * is set, 0 when `name` is no selection option, -1 with e saying what the value must be
 * ("is auto, none or a provider (aws, azure, gcp, oci), not \"x\""), to be prefixed with the
 * option's name by the caller.
 */
int cloud_select_set(struct cloud_select *s, const char *name, const char *value, mg_err *e);

enum cloud_select_result {
	CLOUD_SELECT_FOUND,   /* *ops is the provider */
	CLOUD_SELECT_OFF,     /* --cloud none */
	CLOUD_SELECT_NOCLOUD, /* detection found no cloud: why says what it saw */
	CLOUD_SELECT_UNKNOWN, /* a provider this build does not have: why names it */
};

/*
 * The provider named, or the one detection finds (DMI, then a metadata probe of at most
 * `probe_ms`). `why` is set for every result but FOUND.
 */
enum cloud_select_result cloud_select_resolve(const struct cloud_select *s, long probe_ms,
					      const struct cloud_provider_ops **ops, mg_err *why);

#endif
