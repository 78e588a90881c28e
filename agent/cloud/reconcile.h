/* SPDX-License-Identifier: MIT */
/*
 * The provider-neutral cloud route reconciler. Desired destinations (the controller's
 * cloud.destinations) minus the network's own CIDRs, compared per route table with what
 * is there, become only the needed mutations, one table after the other. A steady state
 * makes no mutating call at all.
 *
 * Ownership: a route is meshgate's if it is recorded as created by meshgate (the
 * `owned` list, kept in the agent's state: AWS routes carry no tags) or if its target is
 * this host's own NIC. A route for the same destination pointing elsewhere is a
 * conflict: reported, left alone, unless `takeover`. A blackhole route for one of our
 * destinations is replaced.
 */
#ifndef MG_CLOUD_RECONCILE_H
#define MG_CLOUD_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include "cloud.h"

#define CREC_MAX_OWNED 4096

struct crec_owned {
	char table[CLOUD_ID_LEN];
	struct cidr dst;
};

struct crec_table_report {
	char id[CLOUD_ID_LEN];
	size_t owned;     /* our routes in this table after the run */
	size_t conflicts; /* destinations held by someone else's route */
	char conflict[256]; /* the first conflict, for the status line */
	char last_error[256];
};

struct crec_report {
	size_t creates, replaces, deletes, unchanged, conflicts, errors;
	size_t skipped_local; /* destinations inside the network's own CIDRs */
	struct crec_table_report *tables;
	size_t n_tables;
};

void crec_report_free(struct crec_report *r);

/* The owned list, grown and shrunk by the reconciler (persist it after each run). */
struct crec_owned_list {
	struct crec_owned *v;
	size_t n, cap;
};
void crec_owned_free(struct crec_owned_list *l);
int crec_owned_add(struct crec_owned_list *l, const char *table, const struct cidr *dst,
		   mg_err *e);

/*
 * One pass. `table_ids` (n_ids > 0) limits the scope, else every table of the network.
 * Per-route failures are counted in the report (and in the table's last_error); -1 only
 * when nothing could be done (listing the tables failed).
 */
int crec_run(const struct cloud_provider_ops *ops, struct cloud_provider *p,
	     const struct cloud_identity *id, const char *const *table_ids, size_t n_ids,
	     const struct cidr *desired, size_t n_desired, bool takeover,
	     struct crec_owned_list *owned, struct crec_report *rep, mg_err *e);

/* Delete every route of ours (on `down` and on revocation). Failures keep the entry. */
int crec_teardown(const struct cloud_provider_ops *ops, struct cloud_provider *p,
		  const struct cloud_identity *id, struct crec_owned_list *owned,
		  size_t *deleted, mg_err *e);

#endif
