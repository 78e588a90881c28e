/* SPDX-License-Identifier: MIT */
/*
 * The provider-neutral cloud route reconciler. Desired destinations (the controller's
 * cloud.destinations) minus the network's own CIDRs, compared per scope with what is
 * there, become one plan per scope holding only the needed mutations; the driver applies
 * it. A steady state makes no mutating call at all.
 *
 * Ownership is the driver's call (ops->classify), helped by the `owned` record kept in the
 * agent's state for providers without a marker on routes:
 *  - ours, to this host and active: nothing to do;
 *  - ours otherwise (stale, a blackhole): replaced; no longer wanted: deleted;
 *  - ours but marked by another connector of the network, active: a conflict (left alone
 *    unless `takeover`), and never deleted;
 *  - foreign and active: a conflict, left alone unless `takeover`; foreign but not active
 *    (a blackhole): replaced;
 *  - system: never touched.
 * A PRECONDITION result (the scope changed under us) re-lists that scope and plans again,
 * at most CREC_MAX_ROUNDS times.
 */
#ifndef MG_CLOUD_RECONCILE_H
#define MG_CLOUD_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include "cloud.h"

#define CREC_MAX_OWNED  4096
#define CREC_MAX_ROUNDS 3

struct crec_owned {
	char scope[CLOUD_ID_LEN];
	struct cidr dst;
};

/* The owned list, grown and shrunk by the reconciler (persist it after each run). */
struct crec_owned_list {
	struct crec_owned *v;
	size_t n, cap;
};
void crec_owned_free(struct crec_owned_list *l);
int crec_owned_add(struct crec_owned_list *l, const char *scope, const struct cidr *dst, mg_err *e);

struct crec_scope_report {
	char id[CLOUD_ID_LEN];
	size_t owned;       /* our routes in this scope after the run */
	size_t conflicts;   /* destinations held by someone else's route */
	char conflict[256]; /* the first conflict, for the status line */
	char last_error[256];
	enum cloud_err_kind last_kind; /* of last_error */
	char permission[96];           /* to grant, when last_kind is UNAUTHORIZED */
};

struct crec_report {
	size_t creates, replaces, deletes, unchanged, conflicts, errors;
	size_t replans;                  /* scopes re-listed after a PRECONDITION */
	size_t skipped_local;            /* destinations inside the network's own CIDRs */
	size_t by_kind[CLOUD_ERR_KINDS]; /* errors by kind */
	size_t write_failed[3];          /* route writes that failed, by enum cloud_op */
	bool aborted;                    /* stopped early: aborted or writes not allowed */
	struct crec_scope_report *scopes;
	size_t n_scopes;
};
void crec_report_free(struct crec_report *r);

/* One run's inputs. */
struct crec_in {
	const struct cloud_provider_ops *ops;
	struct cloud_provider *p;
	const struct cloud_identity *id;
	const struct cloud_mesh_id *me; /* NULL: no marker comparisons */
	const char *const *scope_ids;   /* n_scope_ids > 0 limits the run to these */
	size_t n_scope_ids;
	const struct cidr *desired;
	size_t n_desired;
	bool takeover;                   /* replace other targets' routes for our destinations */
	const struct cloud_hooks *hooks; /* may_write / aborted; NULL = always allowed */
};

/*
 * One pass. Per-route failures are counted in the report (and in the scope's last_error);
 * -1 only when nothing could be done (listing the scopes failed: `ce` says why).
 */
int crec_run(const struct crec_in *in, struct crec_owned_list *owned, struct crec_report *rep,
	     struct cloud_err *ce);

/* Delete every route of ours (`down`, revocation; in->desired ignored). Failures keep
 * the entry. */
int crec_teardown(const struct crec_in *in, struct crec_owned_list *owned, size_t *deleted,
		  struct cloud_err *ce);

#endif
