/* SPDX-License-Identifier: MIT */
/*
 * The cloud line of `meshgate check`: which provider, this VM's identity, and whether the
 * cloud forwards traffic for it (AWS source/destination check, Azure enableIPForwarding,
 * GCP canIpForward, OCI skipSourceDestCheck). Read only: the provider runs with writes
 * forbidden, so a forwarding switch that is off is reported, never turned on.
 */
#ifndef MG_CHECK_CLOUD_H
#define MG_CHECK_CLOUD_H

#include <stddef.h>

#include "cloud_select.h"

enum check_cloud_verdict { CHECK_CLOUD_OK, CHECK_CLOUD_FAIL, CHECK_CLOUD_SKIP };

struct check_cloud_opts {
	struct cloud_select sel;
	long timeout_ms; /* the whole check gives up after this */
};

/* The verdict, with one line for the user in `detail`. */
enum check_cloud_verdict check_cloud(const struct check_cloud_opts *o, char *detail, size_t len);

#endif
