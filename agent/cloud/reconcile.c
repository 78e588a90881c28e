/* SPDX-License-Identifier: MIT */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void crec_report_free(struct crec_report *r)
{
	free(r->tables);
	memset(r, 0, sizeof(*r));
}

void crec_owned_free(struct crec_owned_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static ssize_t owned_find(const struct crec_owned_list *l, const char *table,
			  const struct cidr *dst)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].table, table) && cidr_equal(&l->v[i].dst, dst))
			return (ssize_t)i;
	return -1;
}

int crec_owned_add(struct crec_owned_list *l, const char *table, const struct cidr *dst,
		   mg_err *e)
{
	if (owned_find(l, table, dst) >= 0)
		return 0;
	if (l->n >= CREC_MAX_OWNED)
		return mg_err_set(e, "more than %d cloud routes recorded as ours", CREC_MAX_OWNED);
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		struct crec_owned *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return mg_err_set(e, "out of memory");
		l->v = nv;
		l->cap = nc;
	}
	snprintf(l->v[l->n].table, sizeof(l->v[0].table), "%s", table);
	l->v[l->n].dst = *dst;
	l->n++;
	return 0;
}

static void owned_del(struct crec_owned_list *l, size_t i)
{
	l->v[i] = l->v[--l->n];
}

/* Does this route send traffic to this very host? */
static bool targets_us(const struct cloud_route *r, const struct cloud_identity *id)
{
	if (id->nic_id[0] && !strcmp(r->nic_id, id->nic_id))
		return true;
	if (r->target_kind == CLOUD_TARGET_NIC && id->nic_id[0] &&
	    !strcmp(r->target_id, id->nic_id))
		return true;
	return r->target_kind == CLOUD_TARGET_INSTANCE && id->instance_id[0] &&
	       !strcmp(r->target_id, id->instance_id);
}

static bool in_list(const struct cidr *v, size_t n, const struct cidr *c)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_equal(&v[i], c))
			return true;
	return false;
}

static void table_error(struct crec_table_report *tr, struct crec_report *rep, const char *what,
			const struct cidr *dst, const mg_err *e)
{
	char b[CIDR_STRLEN];
	snprintf(tr->last_error, sizeof(tr->last_error), "%s %s: %.200s", what, cidr_format(dst, b),
		 e->msg);
	log_err("cloud route table %s: %s", tr->id, tr->last_error);
	rep->errors++;
}

static void reconcile_table(const struct cloud_provider_ops *ops, struct cloud_provider *p,
			    const struct cloud_identity *id, const struct cloud_route_table *t,
			    const struct cidr *want, size_t nw, bool takeover,
			    struct crec_owned_list *owned, struct crec_table_report *tr,
			    struct crec_report *rep)
{
	char b[CIDR_STRLEN];
	mg_err e;

	snprintf(tr->id, sizeof(tr->id), "%s", t->id);
	for (size_t i = 0; i < nw; i++) {
		const struct cloud_route *r = cloud_route_table_find(t, &want[i]);
		ssize_t mine = owned_find(owned, t->id, &want[i]);
		enum cloud_upsert_result res = CLOUD_UPSERT_UNCHANGED;

		if (r && targets_us(r, id) && r->state == CLOUD_ROUTE_ACTIVE) {
			rep->unchanged++;
			if (crec_owned_add(owned, t->id, &want[i], &e) < 0)
				table_error(tr, rep, "recording", &want[i], &e);
			continue;
		}
		if (r && !targets_us(r, id) && r->state == CLOUD_ROUTE_ACTIVE && !takeover) {
			/* someone else's route: theirs, even if we made it once */
			if (mine >= 0)
				owned_del(owned, (size_t)mine);
			rep->conflicts++;
			if (!tr->conflicts++)
				snprintf(tr->conflict, sizeof(tr->conflict),
					 "%s already routes to %s (left alone; cloud takeover "
					 "would replace it)",
					 cidr_format(&want[i], b), r->target_id[0] ? r->target_id : "?");
			log_warn("cloud route table %s: %s", t->id, tr->conflict);
			continue;
		}
		/* missing, a blackhole, ours gone stale, or taken over */
		if (ops->upsert_route(p, id, t->id, &want[i],
				      takeover || (r && r->state != CLOUD_ROUTE_ACTIVE), &res,
				      &e) < 0) {
			if (res == CLOUD_UPSERT_CONFLICT) {
				rep->conflicts++;
				if (!tr->conflicts++)
					snprintf(tr->conflict, sizeof(tr->conflict), "%s: %.200s",
						 cidr_format(&want[i], b), e.msg);
				continue;
			}
			table_error(tr, rep, "routing", &want[i], &e);
			continue;
		}
		if (res == CLOUD_UPSERT_CREATED)
			rep->creates++;
		else if (res == CLOUD_UPSERT_REPLACED)
			rep->replaces++;
		else
			rep->unchanged++;
		if (res != CLOUD_UPSERT_UNCHANGED)
			log_info("cloud route table %s: %s -> this host (%s)", t->id,
				 cidr_format(&want[i], b),
				 res == CLOUD_UPSERT_CREATED ? "created" : "replaced");
		if (crec_owned_add(owned, t->id, &want[i], &e) < 0)
			table_error(tr, rep, "recording", &want[i], &e);
	}

	/* ours, no longer wanted: recorded ones, and any route to this host's NIC */
	for (size_t i = 0; i < t->n_routes; i++) {
		const struct cloud_route *r = &t->routes[i];
		ssize_t mine;
		if (!r->has_dst || in_list(want, nw, &r->dst))
			continue;
		mine = owned_find(owned, t->id, &r->dst);
		if (!targets_us(r, id) && !(mine >= 0 && r->state != CLOUD_ROUTE_ACTIVE)) {
			if (mine >= 0)
				owned_del(owned, (size_t)mine); /* retargeted by someone: theirs */
			continue;
		}
		if (!strcmp(r->origin, "CreateRouteTable") ||
		    !strcmp(r->origin, "EnableVgwRoutePropagation"))
			continue; /* the local route and propagated ones are never ours */
		if (ops->delete_route(p, t->id, &r->dst, &e) < 0) {
			table_error(tr, rep, "removing", &r->dst, &e);
			continue;
		}
		rep->deletes++;
		log_info("cloud route table %s: %s removed", t->id, cidr_format(&r->dst, b));
		mine = owned_find(owned, t->id, &r->dst);
		if (mine >= 0)
			owned_del(owned, (size_t)mine);
	}
	/* recorded routes that vanished on their own */
	for (size_t i = 0; i < owned->n;) {
		if (!strcmp(owned->v[i].table, t->id) && !in_list(want, nw, &owned->v[i].dst) &&
		    !cloud_route_table_find(t, &owned->v[i].dst)) {
			owned_del(owned, i);
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < owned->n; i++)
		if (!strcmp(owned->v[i].table, t->id))
			tr->owned++;
}

int crec_run(const struct cloud_provider_ops *ops, struct cloud_provider *p,
	     const struct cloud_identity *id, const char *const *table_ids, size_t n_ids,
	     const struct cidr *desired, size_t n_desired, bool takeover,
	     struct crec_owned_list *owned, struct crec_report *rep, mg_err *e)
{
	struct cloud_route_tables tables = {0};
	struct cidr *want;
	size_t nw = 0;

	memset(rep, 0, sizeof(*rep));
	want = calloc(n_desired ? n_desired : 1, sizeof(*want));
	if (!want)
		return mg_err_set(e, "out of memory");
	for (size_t i = 0; i < n_desired; i++) {
		bool local = false;
		for (size_t k = 0; k < id->n_net_cidrs; k++)
			local |= cidr_overlaps(&desired[i], &id->net_cidrs[k]);
		if (local) {
			rep->skipped_local++; /* the network routes its own CIDRs itself */
			continue;
		}
		want[nw++] = desired[i];
	}
	if (ops->list_route_tables(p, id, table_ids, n_ids, &tables, e) < 0) {
		free(want);
		return mg_err_prefix(e, "listing route tables");
	}
	rep->tables = calloc(tables.n ? tables.n : 1, sizeof(*rep->tables));
	if (!rep->tables) {
		cloud_route_tables_free(&tables);
		free(want);
		return mg_err_set(e, "out of memory");
	}
	rep->n_tables = tables.n;
	for (size_t i = 0; i < tables.n; i++)
		reconcile_table(ops, p, id, &tables.v[i], want, nw, takeover, owned,
				&rep->tables[i], rep);
	cloud_route_tables_free(&tables);
	free(want);
	return 0;
}

int crec_teardown(const struct cloud_provider_ops *ops, struct cloud_provider *p,
		  const struct cloud_identity *id, struct crec_owned_list *owned,
		  size_t *deleted, mg_err *e)
{
	struct crec_report rep;
	int r;

	/* reconciling towards "nothing wanted" removes exactly what is ours */
	r = crec_run(ops, p, id, NULL, 0, NULL, 0, false, owned, &rep, e);
	*deleted = rep.deletes;
	if (r == 0 && rep.errors)
		r = mg_err_set(e, "%zu cloud route%s of ours could not be removed", rep.errors,
			       rep.errors == 1 ? "" : "s");
	crec_report_free(&rep);
	return r;
}
