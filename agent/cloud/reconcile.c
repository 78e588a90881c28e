/* SPDX-License-Identifier: MIT */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "log.h"

void crec_report_free(struct crec_report *r)
{
	free(r->scopes);
	memset(r, 0, sizeof(*r));
}

void crec_owned_free(struct crec_owned_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static ssize_t owned_find(const struct crec_owned_list *l, const char *scope,
			  const struct cidr *dst)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].scope, scope) && cidr_equal(&l->v[i].dst, dst))
			return (ssize_t)i;
	return -1;
}

int crec_owned_add(struct crec_owned_list *l, const char *scope, const struct cidr *dst, mg_err *e)
{
	if (owned_find(l, scope, dst) >= 0)
		return 0;
	if (mg_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), CREC_MAX_OWNED, e) < 0)
		return mg_err_prefix(e, "cloud routes recorded as ours");
	snprintf(l->v[l->n].scope, sizeof(l->v[0].scope), "%s", scope);
	l->v[l->n].dst = *dst;
	l->n++;
	return 0;
}

static void owned_del_at(struct crec_owned_list *l, ssize_t i)
{
	if (i >= 0)
		l->v[i] = l->v[--l->n];
}

static bool in_list(const struct cidr *v, size_t n, const struct cidr *c)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_equal(&v[i], c))
			return true;
	return false;
}

struct ctx {
	const struct crec_in *in;
	const struct cidr *want;
	size_t nw;
	bool *settled; /* want[i] was mutated in this run: not "unchanged" on a re-plan */
	struct crec_owned_list *owned;
	struct crec_report *rep;
	size_t unchanged; /* this round's */
};

/* Marked by another connector of our network (providers with a marker only). */
static bool other_connector(const struct crec_in *in, const struct cloud_route *r)
{
	return in->me && in->me->connector[0] && r->marker.connector[0] &&
	       strcmp(r->marker.connector, in->me->connector);
}

static void scope_error(struct ctx *c, struct crec_scope_report *tr, const char *what,
			const struct cidr *dst, const struct cloud_err *er)
{
	char b[CIDR_STRLEN];

	snprintf(tr->last_error, sizeof(tr->last_error), "%s %s: %.200s", what,
		 dst ? cidr_format(dst, b) : "", er->e.msg);
	tr->last_kind = er->kind;
	snprintf(tr->permission, sizeof(tr->permission), "%s", er->permission);
	log_err("cloud route table %s: %s", tr->id, tr->last_error);
	c->rep->errors++;
	c->rep->by_kind[(unsigned)er->kind < CLOUD_ERR_KINDS ? er->kind : CLOUD_ERR_FATAL]++;
}

/* Count a conflict; the first one of the scope is kept for the status line. */
static void conflict(struct crec_scope_report *tr, const struct cidr *dst, const char *what,
		     const char *who, const char *after)
{
	char b[CIDR_STRLEN];

	if (tr->conflicts++)
		return;
	snprintf(tr->conflict, sizeof(tr->conflict), "%s %s%.120s%s", cidr_format(dst, b), what,
		 who, after);
}

static void record(struct ctx *c, struct crec_scope_report *tr, const char *scope,
		   const struct cidr *dst)
{
	struct cloud_err ce = {0};

	if (crec_owned_add(c->owned, scope, dst, &ce.e) < 0) {
		ce.kind = CLOUD_ERR_LIMIT;
		scope_error(c, tr, "recording", dst, &ce);
	}
}

static void classify_all(struct ctx *c, struct cloud_scope *s)
{
	for (size_t i = 0; i < s->n_routes; i++) {
		struct cloud_route *r = &s->routes[i];
		bool recorded = r->has_dst && owned_find(c->owned, s->id, &r->dst) >= 0;

		r->owner = CLOUD_OWNER_FOREIGN;
		r->to_us = false;
		memset(&r->marker, 0, sizeof(r->marker));
		c->in->ops->classify(c->in->p, c->in->id, s, r, recorded);
	}
}

static void add_item(struct cloud_plan *pl, enum cloud_op op, const struct cidr *dst,
		     const struct cloud_route *cur)
{
	struct cloud_plan_item *it = &pl->items[pl->n++];

	memset(it, 0, sizeof(*it));
	it->op = op;
	it->dst = *dst;
	it->cur = cur;
}

/* What this scope needs; tallies this round's unchanged routes and conflicts. */
static void plan_scope(struct ctx *c, const struct cloud_scope *s, struct cloud_plan *pl,
		       struct crec_scope_report *tr)
{
	const struct crec_in *in = c->in;

	for (size_t i = 0; i < c->nw; i++) {
		const struct cloud_route *r = cloud_scope_find(s, &c->want[i]);
		ssize_t mine = owned_find(c->owned, s->id, &c->want[i]);

		if (!r) {
			add_item(pl, CLOUD_OP_CREATE, &c->want[i], NULL);
			continue;
		}
		if (r->owner == CLOUD_OWNER_OURS && r->to_us && r->state == CLOUD_ROUTE_ACTIVE) {
			if (!c->settled[i])
				c->unchanged++;
			record(c, tr, s->id, &c->want[i]);
			continue;
		}
		if (r->owner == CLOUD_OWNER_SYSTEM) {
			conflict(tr, &c->want[i], "is the cloud's own route (",
				 r->target_id[0] ? r->target_id : "system", "); left alone");
			continue;
		}
		if (r->state == CLOUD_ROUTE_ACTIVE && !in->takeover &&
		    (r->owner == CLOUD_OWNER_FOREIGN || other_connector(in, r))) {
			/* someone else's route: theirs, even if we made it once */
			if (r->owner == CLOUD_OWNER_FOREIGN)
				owned_del_at(c->owned, mine);
			if (r->owner == CLOUD_OWNER_FOREIGN)
				conflict(tr, &c->want[i], "already routes to ",
					 r->target_id[0] ? r->target_id : "?",
					 " (left alone; cloud takeover would replace it)");
			else
				conflict(tr, &c->want[i], "is held by connector ",
					 r->marker.connector, " of this network (left alone)");
			continue;
		}
		/* ours gone stale, a blackhole, or taken over */
		add_item(pl, CLOUD_OP_REPLACE, &c->want[i], r);
	}

	/* ours, no longer wanted */
	for (size_t i = 0; i < s->n_routes; i++) {
		const struct cloud_route *r = &s->routes[i];
		if (!r->has_dst || in_list(c->want, c->nw, &r->dst))
			continue;
		if (r->owner == CLOUD_OWNER_OURS && !other_connector(in, r))
			add_item(pl, CLOUD_OP_DELETE, &r->dst, r);
		else /* retargeted by someone: theirs now */
			owned_del_at(c->owned, owned_find(c->owned, s->id, &r->dst));
	}
	/* recorded routes that vanished on their own */
	for (size_t i = 0; i < c->owned->n;) {
		if (!strcmp(c->owned->v[i].scope, s->id) &&
		    !in_list(c->want, c->nw, &c->owned->v[i].dst) &&
		    !cloud_scope_find(s, &c->owned->v[i].dst)) {
			owned_del_at(c->owned, (ssize_t)i);
			continue;
		}
		i++;
	}
}

static void item_done(struct ctx *c, struct crec_scope_report *tr, const char *scope,
		      const struct cloud_plan_item *it)
{
	char b[CIDR_STRLEN];

	for (size_t i = 0; i < c->nw; i++)
		if (cidr_equal(&c->want[i], &it->dst))
			c->settled[i] = true;
	switch (it->op) {
	case CLOUD_OP_CREATE:
	case CLOUD_OP_REPLACE:
		if (it->op == CLOUD_OP_CREATE)
			c->rep->creates++;
		else
			c->rep->replaces++;
		log_info("cloud route table %s: %s -> this host (%s)", scope,
			 cidr_format(&it->dst, b),
			 it->op == CLOUD_OP_CREATE ? "created" : "replaced");
		record(c, tr, scope, &it->dst);
		break;
	case CLOUD_OP_DELETE:
		c->rep->deletes++;
		log_info("cloud route table %s: %s removed", scope, cidr_format(&it->dst, b));
		owned_del_at(c->owned, owned_find(c->owned, scope, &it->dst));
		break;
	}
}

/* Apply one plan; true when the scope must be listed and planned again. */
static bool apply(struct ctx *c, struct cloud_plan *pl, struct crec_scope_report *tr, bool last)
{
	const struct crec_in *in = c->in;
	struct cloud_err ce = {0};
	bool replan = false;
	int r;

	if (!pl->n)
		return false;
	if (!cloud_may_write(in->hooks) || cloud_aborted(in->hooks)) {
		c->rep->aborted = true;
		return false;
	}
	for (size_t i = 0; i < pl->n; i++)
		cloud_err_set(&pl->items[i].res, CLOUD_ERR_ABORTED, NULL, "not attempted");
	r = in->ops->apply_plan(in->p, in->id, pl, &ce);
	for (size_t i = 0; i < pl->n; i++) {
		const struct cloud_plan_item *it = &pl->items[i];
		/* a plan that failed as a whole speaks for the items it did not do */
		const struct cloud_err *er =
		    r < 0 && it->res.kind == CLOUD_ERR_ABORTED ? &ce : &it->res;

		if (er->kind == CLOUD_OK) {
			item_done(c, tr, pl->scope->id, it);
		} else if (er->kind == CLOUD_ERR_PRECONDITION && !last) {
			replan = true;
		} else if (er->kind == CLOUD_ERR_ABORTED) {
			c->rep->aborted = true;
		} else if (er->kind == CLOUD_ERR_CONFLICT) {
			conflict(tr, &it->dst, "", er->e.msg, "");
		} else {
			if ((unsigned)it->op < MG_ARRAY_SIZE(c->rep->write_failed))
				c->rep->write_failed[it->op]++;
			scope_error(c, tr, it->op == CLOUD_OP_DELETE ? "removing" : "routing",
				    &it->dst, er);
		}
	}
	return replan;
}

static void run_scope(struct ctx *c, struct cloud_scope *listed, struct crec_scope_report *tr)
{
	const struct crec_in *in = c->in;
	struct cloud_scopes fresh = {0};
	struct cloud_scope *s = listed;
	struct cloud_plan pl = {0};
	char b[CIDR_STRLEN];

	snprintf(tr->id, sizeof(tr->id), "%s", listed->id);
	for (int round = 0;; round++) {
		struct cloud_scopes nf = {0};
		struct cloud_err le = {0};
		const char *one[1] = {tr->id};

		if (cloud_aborted(in->hooks)) {
			c->rep->aborted = true;
			break;
		}
		classify_all(c, s);
		c->unchanged = 0;
		tr->conflicts = 0;
		tr->conflict[0] = '\0';
		free(pl.items);
		pl = (struct cloud_plan){.scope = s};
		pl.items = calloc(c->nw + s->n_routes + 1, sizeof(*pl.items));
		if (!pl.items) {
			cloud_err_set(&le, CLOUD_ERR_FATAL, NULL, "out of memory");
			scope_error(c, tr, "planning", NULL, &le);
			break;
		}
		plan_scope(c, s, &pl, tr);
		if (!apply(c, &pl, tr, round == CREC_MAX_ROUNDS - 1))
			break;
		/* the scope changed under us: look again, plan again */
		c->rep->replans++;
		log_info("cloud route table %s changed while being written; listing it again",
			 tr->id);
		if (in->ops->list_scopes(in->p, in->id, one, 1, &nf, &le) < 0 || nf.n != 1) {
			if (nf.n != 1 && !le.kind)
				cloud_err_set(&le, CLOUD_ERR_NOT_FOUND, NULL, "%s is gone", tr->id);
			scope_error(c, tr, "listing again", NULL, &le);
			cloud_scopes_free(&nf);
			break;
		}
		cloud_scopes_free(&fresh);
		fresh = nf;
		s = &fresh.v[0];
	}
	free(pl.items);
	cloud_scopes_free(&fresh);
	c->rep->unchanged += c->unchanged;
	c->rep->conflicts += tr->conflicts;
	if (tr->conflicts)
		log_warn("cloud route table %s: %s", tr->id, tr->conflict);
	for (size_t i = 0; i < c->owned->n; i++)
		if (!strcmp(c->owned->v[i].scope, tr->id))
			tr->owned++;
	(void)b;
}

int crec_run(const struct crec_in *in, struct crec_owned_list *owned, struct crec_report *rep,
	     struct cloud_err *ce)
{
	struct cloud_scopes scopes = {0};
	struct ctx c = {.in = in, .owned = owned, .rep = rep};
	struct cloud_err own = {0};
	struct cidr *want;

	if (!ce)
		ce = &own; /* drivers always get somewhere to say why */
	memset(rep, 0, sizeof(*rep));
	want = calloc(in->n_desired ? in->n_desired : 1, sizeof(*want));
	c.settled = calloc(in->n_desired ? in->n_desired : 1, sizeof(*c.settled));
	if (!want || !c.settled) {
		free(want);
		free(c.settled);
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "out of memory");
	}
	for (size_t i = 0; i < in->n_desired; i++) {
		bool local = false;
		for (size_t k = 0; k < in->id->n_net_cidrs; k++)
			local |= cidr_overlaps(&in->desired[i], &in->id->net_cidrs[k]);
		if (local) {
			rep->skipped_local++; /* the network routes its own CIDRs itself */
			continue;
		}
		if (!in_list(want, c.nw, &in->desired[i]))
			want[c.nw++] = in->desired[i];
	}
	c.want = want;
	if (in->ops->list_scopes(in->p, in->id, in->scope_ids, in->n_scope_ids, &scopes, ce) < 0) {
		free(want);
		free(c.settled);
		cloud_scopes_free(&scopes);
		mg_err_prefix(&ce->e, "listing route tables");
		return -1;
	}
	rep->scopes = calloc(scopes.n ? scopes.n : 1, sizeof(*rep->scopes));
	if (!rep->scopes) {
		cloud_scopes_free(&scopes);
		free(want);
		free(c.settled);
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "out of memory");
	}
	rep->n_scopes = scopes.n;
	for (size_t i = 0; i < scopes.n && !rep->aborted; i++)
		run_scope(&c, &scopes.v[i], &rep->scopes[i]);
	cloud_scopes_free(&scopes);
	free(want);
	free(c.settled);
	return 0;
}

int crec_teardown(const struct crec_in *in, struct crec_owned_list *owned, size_t *deleted,
		  struct cloud_err *ce)
{
	struct crec_in none = *in;
	struct crec_report rep;
	int r;

	/* reconciling towards "nothing wanted" removes exactly what is ours */
	none.desired = NULL;
	none.n_desired = 0;
	none.takeover = false;
	r = crec_run(&none, owned, &rep, ce);
	*deleted = rep.deletes;
	if (r == 0 && (rep.errors || rep.aborted))
		r = cloud_err_set(ce, rep.aborted ? CLOUD_ERR_ABORTED : CLOUD_ERR_FATAL, NULL,
				  "%zu cloud route%s of ours could not be removed%s", owned->n,
				  owned->n == 1 ? "" : "s", rep.aborted ? " (interrupted)" : "");
	crec_report_free(&rep);
	return r;
}
