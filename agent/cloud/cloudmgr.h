/* SPDX-License-Identifier: MIT */
/*
 * The agent's cloud side: which provider (DMI hints, a short metadata probe, or what the
 * admin forces), who we are there, the NIC's forwarding switch, and the VPC routes for
 * the controller's cloud.destinations through the reconciler. Routes meshgate created
 * are recorded in <state>/cloud.json (0600): a plain stop leaves them (the instance
 * still exists, restarts must not churn the API); `down` and revocation remove them.
 *
 * Blocking and single-threaded: the daemon runs it on the cloud worker thread (worker.h),
 * `meshgate down` calls it directly.
 */
#ifndef MG_CLOUDMGR_H
#define MG_CLOUDMGR_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "cloud.h"
#include "cloud_select.h"
#include "err.h"
#include "reconcile.h"

#define CM_MAX_TABLES 16

struct cloud_opts {
	struct cloud_select sel;                  /* which provider and where its services are */
	char tables[CM_MAX_TABLES][CLOUD_ID_LEN]; /* scope; none = every table of the VPC */
	size_t n_tables;
	bool takeover;             /* replace other targets' routes for our destinations */
	struct cloud_mesh_id mesh; /* this connector, for providers' ownership markers */
	struct cloud_hooks hooks;  /* abort / may_write (the worker sets them); none = always */
	bool gcp_priority_set;     /* GCP: --cloud-gcp-priority, --cloud-gcp-tags */
	int gcp_priority;
	char gcp_tags[256];
};

struct cloudmgr;

int cm_open(struct cloudmgr **out, const char *state_dir, const struct cloud_opts *o, mg_err *e);
void cm_close(struct cloudmgr *cm);

/*
 * Bring the VPC in line with the desired state (the config's cloud.manage_routes and
 * cloud.destinations). A host that is no cloud VM is a quiet no-op. Blocking (bounded by
 * the provider's timeouts and retries, and by hooks.aborted). Returns 0, or -1 with e
 * set; the status keeps the details.
 */
int cm_sync(struct cloudmgr *cm, bool manage_routes, const struct cidr *dests, size_t n_dests,
	    mg_err *e);
/*
 * HA (docs/HA.md): as the network's active connector (`takeover`), the next passes replace
 * routes of the network's other connectors (`peers`, copied); as a standby, cm_standby
 * only learns who we are (identity, credentials) and writes nothing.
 */
void cm_set_ha(struct cloudmgr *cm, bool takeover, const struct crec_peer *peers, size_t n);
int cm_standby(struct cloudmgr *cm, mg_err *e);
/* Remove every route meshgate created (down, revocation). */
int cm_teardown(struct cloudmgr *cm, mg_err *e);
/* Provider, identity, forwarding state, counters, per table: owned, conflicts, last error
 * (with its kind and the permission to grant). */
cJSON *cm_status(const struct cloudmgr *cm);
/* Routes recorded as ours right now. */
size_t cm_owned_count(const struct cloudmgr *cm);

#endif
