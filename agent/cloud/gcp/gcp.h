/* SPDX-License-Identifier: MIT */
/* The GCP provider's pure helpers (names, markers, route bodies, per-destination pick). */
#ifndef MG_GCP_H
#define MG_GCP_H

#include <cjson/cJSON.h>

#include "cidr.h"
#include "cloud.h"
#include "gcp_json.h"

#define GCP_ROUTE_PREFIX "mg-"
#define GCP_DESC_PREFIX  "meshgate:"

/* "mg-" + 24 hex digits of SHA-256(mesh network|dst|instance|salt): RFC 1035, 27 chars. */
void gcp_route_name(const char *mesh_net, const struct cidr *dst, const char *instance,
		    unsigned salt, char out[GCP_NAME_LEN]);
/* Our marker: name prefix and "meshgate:<network>:<connector>". 0, or -1 when not ours. */
int gcp_marker_parse(const char *name, const char *desc, struct cloud_mesh_id *m);
/* routes.insert body (heap, cJSON_free) or NULL. */
char *gcp_route_body(const char *name, const char *project, const char *network,
		     const struct cidr *dst, int priority, const char *instance,
		     const struct cloud_mesh_id *mesh, const char *tags, mg_err *e);

#endif
