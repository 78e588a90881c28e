/* SPDX-License-Identifier: MIT */
/* The provider-neutral reconciler against an in-memory provider that counts its calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "reconcile.h"

#define MAXR 64

static const struct cloud_mesh_id me = {"net-1", "conn-us"};

struct froute {
	struct cidr dst;
	char target[CLOUD_ID_LEN]; /* "eni-us", "eni-other", "igw-1", "" (blackhole) */
	char origin[32];
	char marker[64]; /* "mg:<connector>" or "" */
};

struct ftable {
	char id[CLOUD_ID_LEN];
	struct froute r[MAXR];
	size_t n;
};

struct cloud_provider {
	struct ftable t[4];
	size_t nt;
	int lists, plans, creates, replaces, deletes;
	int fail_next; /* the next mutating call fails */
	int fail_list; /* the next listing fails */
	int race_next; /* the next create finds the destination taken by race_target */
	char race_target[CLOUD_ID_LEN];
	bool always_precondition;
	bool may_write;
};

static struct cidr P(const char *s) {
	struct cidr c;
	assert_int_equal(cidr_parse(s, &c, 0, NULL), 0);
	return c;
}

static struct froute *
ffind(struct ftable *t, const struct cidr *d)
{
	for (size_t i = 0; i < t->n; i++)
		if (cidr_equal(&t->r[i].dst, d))
			return &t->r[i];
	return NULL;
}

static struct ftable *ftab(struct cloud_provider *p, const char *id)
{
	for (size_t i = 0; i < p->nt; i++)
		if (!strcmp(p->t[i].id, id))
			return &p->t[i];
	return NULL;
}

static int f_list(struct cloud_provider *p, const struct cloud_identity *id, const char *const *ids,
		  size_t n_ids, struct cloud_scopes *out, struct cloud_err *ce)
{
	(void)id;
	p->lists++;
	if (p->fail_list) {
		p->fail_list--;
		return cloud_err_set(ce, CLOUD_ERR_UNAUTHORIZED, "fake:List", "list denied");
	}
	for (size_t i = 0; i < p->nt; i++) {
		bool in = n_ids == 0;
		for (size_t k = 0; k < n_ids; k++)
			in |= !strcmp(ids[k], p->t[i].id);
		if (!in)
			continue;
		struct cloud_scope *t = cloud_scopes_add(out, &ce->e);
		if (!t)
			return -1;
		snprintf(t->id, sizeof(t->id), "%s", p->t[i].id);
		for (size_t j = 0; j < p->t[i].n; j++) {
			struct cloud_route *r = cloud_scope_add_route(t, &ce->e);
			const struct froute *f = &p->t[i].r[j];
			if (!r)
				return -1;
			r->has_dst = true;
			r->dst = f->dst;
			snprintf(r->origin, sizeof(r->origin), "%s", f->origin);
			snprintf(r->description, sizeof(r->description), "%s", f->marker);
			if (!f->target[0]) {
				r->state = CLOUD_ROUTE_BLACKHOLE;
				r->target_kind = CLOUD_TARGET_NIC;
				snprintf(r->target_id, sizeof(r->target_id), "eni-deleted");
			} else {
				r->state = CLOUD_ROUTE_ACTIVE;
				r->target_kind = !strncmp(f->target, "eni-", 4)
						     ? CLOUD_TARGET_NIC
						     : CLOUD_TARGET_GATEWAY;
				snprintf(r->target_id, sizeof(r->target_id), "%s", f->target);
				if (r->target_kind == CLOUD_TARGET_NIC)
					snprintf(r->nic_id, sizeof(r->nic_id), "%s", f->target);
			}
		}
	}
	return 0;
}

/*
 * The fake's rules: "local" origin routes are the system's; a description "mg:<connector>"
 * is a marker (as on GCP or OCI); without one, ours = to our NIC, or recorded and dead
 * (as on AWS).
 */
static void f_classify(struct cloud_provider *p, const struct cloud_identity *id,
		       const struct cloud_scope *s, struct cloud_route *r, bool recorded)
{
	(void)p, (void)s;
	r->to_us = !strcmp(r->nic_id, id->nic_id);
	if (!strcmp(r->origin, "local"))
		r->owner = CLOUD_OWNER_SYSTEM;
	else if (!strncmp(r->description, "mg:", 3)) {
		r->owner = CLOUD_OWNER_OURS;
		snprintf(r->marker.connector, sizeof(r->marker.connector), "%s",
			 r->description + 3);
	} else if (r->to_us || (recorded && r->state != CLOUD_ROUTE_ACTIVE))
		r->owner = CLOUD_OWNER_OURS;
	else
		r->owner = CLOUD_OWNER_FOREIGN;
}

static void f_item(struct cloud_provider *p, const struct cloud_identity *id, struct ftable *t,
		   struct cloud_plan_item *it)
{
	struct froute *r = ffind(t, &it->dst);

	if (!p->may_write) {
		cloud_err_set(&it->res, CLOUD_ERR_ABORTED, NULL, "writes not allowed");
		return;
	}
	if (p->fail_next) {
		p->fail_next--;
		cloud_err_set(&it->res, CLOUD_ERR_THROTTLED, NULL,
			      "RequestLimitExceeded (injected)");
		return;
	}
	if (p->always_precondition) {
		cloud_err_set(&it->res, CLOUD_ERR_PRECONDITION, NULL, "changed (injected)");
		return;
	}
	if (p->race_next && it->op == CLOUD_OP_CREATE) {
		/* someone else creates the same destination between our list and our write */
		p->race_next--;
		assert_true(t->n < MAXR);
		r = &t->r[t->n++];
		r->dst = it->dst;
		snprintf(r->target, sizeof(r->target), "%s", p->race_target);
		snprintf(r->origin, sizeof(r->origin), "CreateRoute");
		r->marker[0] = '\0';
	}
	switch (it->op) {
	case CLOUD_OP_CREATE:
		if (r) {
			cloud_err_set(&it->res, CLOUD_ERR_PRECONDITION, NULL, "RouteAlreadyExists");
			return;
		}
		assert_true(t->n < MAXR);
		r = &t->r[t->n++];
		r->dst = it->dst;
		snprintf(r->origin, sizeof(r->origin), "CreateRoute");
		r->marker[0] = '\0';
		p->creates++;
		break;
	case CLOUD_OP_REPLACE:
		if (!r) {
			cloud_err_set(&it->res, CLOUD_ERR_PRECONDITION, NULL, "gone");
			return;
		}
		p->replaces++;
		break;
	case CLOUD_OP_DELETE:
		p->deletes++;
		if (r)
			*r = t->r[--t->n];
		it->res.kind = CLOUD_OK;
		return;
	}
	snprintf(r->target, sizeof(r->target), "%s", id->nic_id);
	it->res.kind = CLOUD_OK;
}

static int f_apply(struct cloud_provider *p, const struct cloud_identity *id,
		   struct cloud_plan *plan, struct cloud_err *ce)
{
	struct ftable *t = ftab(p, plan->scope->id);

	(void)ce;
	p->plans++;
	for (size_t i = 0; i < plan->n; i++)
		f_item(p, id, t, &plan->items[i]);
	return 0;
}

static const struct cloud_provider_ops fake = {
    .name = "fake",
    .list_scopes = f_list,
    .classify = f_classify,
    .apply_plan = f_apply,
};

static struct froute *add_route(struct cloud_provider *p, int t, const char *dst,
				const char *target, const char *origin)
{
	struct froute *r = &p->t[t].r[p->t[t].n++];
	r->dst = P(dst);
	snprintf(r->target, sizeof(r->target), "%s", target);
	snprintf(r->origin, sizeof(r->origin), "%s", origin);
	return r;
}

static void setup_vpc(struct cloud_provider *p, struct cloud_identity *id)
{
	memset(p, 0, sizeof(*p));
	memset(id, 0, sizeof(*id));
	p->may_write = true;
	snprintf(id->nic_id, sizeof(id->nic_id), "eni-us");
	snprintf(id->instance_id, sizeof(id->instance_id), "i-us");
	id->net_cidrs[0] = P("10.0.0.0/16");
	id->n_net_cidrs = 1;
	p->nt = 2;
	snprintf(p->t[0].id, sizeof(p->t[0].id), "rtb-main");
	snprintf(p->t[1].id, sizeof(p->t[1].id), "rtb-b");
	for (int t = 0; t < 2; t++) {
		add_route(p, t, "10.0.0.0/16", "local", "local");
		add_route(p, t, "0.0.0.0/0", "igw-1", "CreateRoute");
	}
}

static int run(struct cloud_provider *p, const struct cloud_identity *id, const char **scope,
	       size_t n_scope, const struct cidr *want, size_t nw, bool takeover,
	       struct crec_owned_list *own, struct crec_report *rep)
{
	struct crec_in in = {
	    .ops = &fake,
	    .p = p,
	    .id = id,
	    .me = &me,
	    .scope_ids = scope,
	    .n_scope_ids = n_scope,
	    .desired = want,
	    .n_desired = nw,
	    .takeover = takeover,
	};
	return crec_run(&in, own, rep, NULL);
}

static int mutations(const struct cloud_provider *p)
{
	return p->creates + p->replaces + p->deletes;
}

static void test_create_then_steady(void **state)
{
	struct cloud_provider p;
	struct cloud_identity id;
	struct crec_owned_list own = {0};
	struct crec_report rep;
	struct cidr want[] = {P("100.96.0.0/11"), P("192.0.2.0/24"), P("10.0.5.0/24")};
	(void)state;

	setup_vpc(&p, &id);
	assert_int_equal(run(&p, &id, NULL, 0, want, 3, false, &own, &rep), 0);
	assert_int_equal(rep.creates, 4);       /* 2 destinations x 2 tables */
	assert_int_equal(rep.skipped_local, 1); /* 10.0.5.0/24 is inside the VPC */
	assert_int_equal(own.n, 4);
	assert_int_equal(rep.scopes[0].owned, 2);
	crec_report_free(&rep);

	/* restart: nothing to do, not a single mutating call */
	int before = mutations(&p);
	assert_int_equal(run(&p, &id, NULL, 0, want, 3, false, &own, &rep), 0);
	assert_int_equal(mutations(&p), before);
	assert_int_equal(rep.unchanged, 4);
	crec_report_free(&rep);

	/* state lost: routes to our NIC are ours by rule, still no call */
	crec_owned_free(&own);
	assert_int_equal(run(&p, &id, NULL, 0, want, 3, false, &own, &rep), 0);
	assert_int_equal(mutations(&p), before);
	assert_int_equal(own.n, 4);
	crec_report_free(&rep);
	crec_owned_free(&own);
}

static void test_remove_unwanted_only_ours(void **state)
{
	struct cloud_provider p;
	struct cloud_identity id;
	struct crec_owned_list own = {0};
	struct crec_report rep;
	struct cidr want[] = {P("100.96.0.0/11"), P("192.0.2.0/24")};
	(void)state;

	setup_vpc(&p, &id);
	add_route(&p, 0, "172.16.0.0/12", "eni-other", "CreateRoute"); /* someone else's */
	assert_int_equal(run(&p, &id, NULL, 0, want, 2, false, &own, &rep), 0);
	crec_report_free(&rep);
	/* the second site goes away */
	assert_int_equal(run(&p, &id, NULL, 0, want, 1, false, &own, &rep), 0);
	assert_int_equal(rep.deletes, 2);
	assert_null(ffind(&p.t[0], &want[1]));
	struct cidr other = P("172.16.0.0/12"), def = P("0.0.0.0/0"), local = P("10.0.0.0/16");
	assert_non_null(ffind(&p.t[0], &other));
	assert_non_null(ffind(&p.t[0], &def));
	assert_non_null(ffind(&p.t[0], &local));
	assert_int_equal(own.n, 2);
	crec_report_free(&rep);

	/* down: exactly ours go, the rest stays */
	size_t deleted = 0;
	struct crec_in in = {.ops = &fake, .p = &p, .id = &id, .me = &me};
	assert_int_equal(crec_teardown(&in, &own, &deleted, NULL), 0);
	assert_int_equal(deleted, 2);
	assert_int_equal(own.n, 0);
	assert_int_equal(p.t[0].n, 3);
	assert_non_null(ffind(&p.t[0], &other));
	crec_owned_free(&own);
}

static void test_conflict_and_blackhole(void **state)
{
	struct cloud_provider p;
	struct cloud_identity id;
	struct crec_owned_list own = {0};
	struct crec_report rep;
	struct cidr want[] = {P("100.96.0.0/11"), P("192.0.2.0/24")};
	(void)state;

	setup_vpc(&p, &id);
	add_route(&p, 0, "192.0.2.0/24", "eni-other", "CreateRoute"); /* conflict */
	add_route(&p, 1, "100.96.0.0/11", "", "CreateRoute");         /* blackhole */
	assert_int_equal(run(&p, &id, NULL, 0, want, 2, false, &own, &rep), 0);
	assert_int_equal(rep.conflicts, 1);
	assert_int_equal(rep.scopes[0].conflicts, 1);
	assert_non_null(strstr(rep.scopes[0].conflict, "192.0.2.0/24"));
	assert_non_null(strstr(rep.scopes[0].conflict, "eni-other"));
	assert_string_equal(ffind(&p.t[0], &want[1])->target, "eni-other"); /* untouched */
	assert_int_equal(rep.replaces, 1);                                  /* the blackhole */
	assert_string_equal(ffind(&p.t[1], &want[0])->target, "eni-us");
	crec_report_free(&rep);

	/* takeover replaces the foreign route */
	assert_int_equal(run(&p, &id, NULL, 0, want, 2, true, &own, &rep), 0);
	assert_int_equal(rep.replaces, 1);
	assert_string_equal(ffind(&p.t[0], &want[1])->target, "eni-us");
	crec_report_free(&rep);
	crec_owned_free(&own);
}

static void test_scope_and_errors(void **state)
{
	struct cloud_provider p;
	struct cloud_identity id;
	struct crec_owned_list own = {0};
	struct crec_report rep;
	struct cidr want[] = {P("100.96.0.0/11")};
	const char *scope[] = {"rtb-b"};
	(void)scope;
	(void)state;

	setup_vpc(&p, &id);
	assert_int_equal(run(&p, &id, scope, 1, want, 1, false, &own, &rep), 0);
	assert_int_equal(rep.n_scopes, 1);
	assert_null(ffind(&p.t[0], &want[0])); /* out of scope: untouched */
	assert_non_null(ffind(&p.t[1], &want[0]));
	crec_report_free(&rep);

	/* a failing call is reported per table, the next run converges */
	struct cidr want2[] = {P("100.96.0.0/11"), P("198.51.100.0/24")};
	p.fail_next = 1;
	assert_int_equal(run(&p, &id, scope, 1, want2, 2, false, &own, &rep), 0);
	assert_int_equal(rep.errors, 1);
	assert_non_null(strstr(rep.scopes[0].last_error, "198.51.100.0/24"));
	assert_int_equal(rep.scopes[0].last_kind, CLOUD_ERR_THROTTLED);
	assert_int_equal(rep.by_kind[CLOUD_ERR_THROTTLED], 1);
	assert_int_equal(rep.write_failed[CLOUD_OP_CREATE], 1); /* the metrics' result=failed */
	assert_int_equal(rep.write_failed[CLOUD_OP_DELETE], 0);
	crec_report_free(&rep);
	assert_int_equal(run(&p, &id, scope, 1, want2, 2, false, &own, &rep), 0);
	assert_int_equal(rep.errors, 0);
	assert_int_equal(rep.creates, 1);
	crec_report_free(&rep);
	crec_owned_free(&own);
}

/* The scope changed between list and write: re-listed, planned again, bounded. */
static void test_replan_on_precondition(void **state)
{
	struct cloud_provider p;
	struct cloud_identity id;
	struct crec_owned_list own = {0};
	struct crec_report rep;
	struct cidr want[] = {P("100.96.0.0/11")};
	const char *scope[] = {"rtb-b"};
	(void)state;

	/* we (a previous run, say) got there first: after the re-list it is simply ours */
	setup_vpc(&p, &id);
	p.race_next = 1;
	snprintf(p.race_target, sizeof(p.race_target), "eni-us");
	assert_int_equal(run(&p, &id, scope, 1, want, 1, false, &own, &rep), 0);
	assert_int_equal(rep.replans, 1);
	assert_int_equal(rep.errors, 0);
	assert_int_equal(rep.creates, 0);
	assert_int_equal(rep.unchanged, 1);
	assert_int_equal(p.lists, 2); /* the whole listing, then that scope again */
	assert_int_equal(own.n, 1);
	crec_report_free(&rep);
	crec_owned_free(&own);

	/* someone else got there first: a conflict, left alone */
	setup_vpc(&p, &id);
	p.race_next = 1;
	snprintf(p.race_target, sizeof(p.race_target), "eni-other");
	assert_int_equal(run(&p, &id, scope, 1, want, 1, false, &own, &rep), 0);
	assert_int_equal(rep.replans, 1);
	assert_int_equal(rep.conflicts, 1);
	assert_int_equal(rep.errors, 0);
	assert_string_equal(ffind(&p.t[1], &want[0])->target, "eni-other");
	crec_report_free(&rep);

	/* it keeps changing: at most CREC_MAX_ROUNDS plans, then an error of that kind */
	setup_vpc(&p, &id);
	p.always_precondition = true;
	assert_int_equal(run(&p, &id, scope, 1, want, 1, false, &own, &rep), 0);
	assert_int_equal(p.plans, CREC_MAX_ROUNDS);
	assert_int_equal(rep.replans, CREC_MAX_ROUNDS - 1);
	assert_int_equal(rep.errors, 1);
	assert_int_equal(rep.scopes[0].last_kind, CLOUD_ERR_PRECONDITION);
	crec_report_free(&rep);
	crec_owned_free(&own);
}

/* Fenced: not a single mutating call, reported as interrupted, not as errors. */
static bool deny(void *ud)
{
	(void)ud;
	return false;
}

static void test_fenced(void **state)
{
	struct cloud_provider p;
	struct cloud_identity id;
	struct crec_owned_list own = {0};
	struct crec_report rep;
	struct cidr want[] = {P("100.96.0.0/11")};
	struct cloud_hooks h = {.may_write = deny};
	(void)state;

	setup_vpc(&p, &id);
	struct crec_in in = {.ops = &fake,
			     .p = &p,
			     .id = &id,
			     .me = &me,
			     .desired = want,
			     .n_desired = 1,
			     .hooks = &h};
	assert_int_equal(crec_run(&in, &own, &rep, NULL), 0);
	assert_true(rep.aborted);
	assert_int_equal(mutations(&p), 0);
	assert_int_equal(p.plans, 0);
	assert_int_equal(rep.errors, 0);
	crec_report_free(&rep);

	/* the driver's own check (a fence raised mid-plan) ends the same way */
	p.may_write = false;
	in.hooks = NULL;
	assert_int_equal(crec_run(&in, &own, &rep, NULL), 0);
	assert_true(rep.aborted);
	assert_int_equal(mutations(&p), 0);
	assert_int_equal(rep.errors, 0);
	crec_report_free(&rep);
	crec_owned_free(&own);
}

/* Markers: another connector's routes are neither replaced nor deleted; ours are. */
static void test_markers(void **state)
{
	struct cloud_provider p;
	struct cloud_identity id;
	struct crec_owned_list own = {0};
	struct crec_report rep;
	struct cidr want[] = {P("100.96.0.0/11")};
	struct cidr theirs_old = P("203.0.113.0/24"), ours_old = P("198.51.100.0/24");
	(void)state;

	setup_vpc(&p, &id);
	snprintf(add_route(&p, 0, "100.96.0.0/11", "eni-peer", "CreateRoute")->marker, 64,
		 "mg:conn-peer");
	snprintf(add_route(&p, 0, "203.0.113.0/24", "eni-peer", "CreateRoute")->marker, 64,
		 "mg:conn-peer");
	snprintf(add_route(&p, 0, "198.51.100.0/24", "eni-old", "CreateRoute")->marker, 64,
		 "mg:conn-us");
	const char *scope[] = {"rtb-main"};
	assert_int_equal(run(&p, &id, scope, 1, want, 1, false, &own, &rep), 0);
	assert_int_equal(rep.conflicts, 1);
	assert_non_null(strstr(rep.scopes[0].conflict, "conn-peer"));
	assert_string_equal(ffind(&p.t[0], &want[0])->target, "eni-peer");
	assert_non_null(ffind(&p.t[0], &theirs_old)); /* another connector's: kept */
	assert_null(ffind(&p.t[0], &ours_old));       /* ours by marker, unwanted: removed */
	assert_int_equal(rep.deletes, 1);
	crec_report_free(&rep);

	/* takeover moves the peer's route to us */
	assert_int_equal(run(&p, &id, scope, 1, want, 1, true, &own, &rep), 0);
	assert_int_equal(rep.replaces, 1);
	assert_string_equal(ffind(&p.t[0], &want[0])->target, "eni-us");
	crec_report_free(&rep);
	crec_owned_free(&own);
}

/* A listing that fails says why, with its kind and the permission to grant. */
static void test_list_error(void **state)
{
	struct cloud_provider p;
	struct cloud_identity id;
	struct crec_owned_list own = {0};
	struct crec_report rep;
	struct cloud_err ce = {0};
	struct cidr want[] = {P("100.96.0.0/11")};
	(void)state;

	setup_vpc(&p, &id);
	p.fail_list = 1;
	struct crec_in in = {.ops = &fake, .p = &p, .id = &id, .desired = want, .n_desired = 1};
	assert_int_equal(crec_run(&in, &own, &rep, &ce), -1);
	assert_int_equal(ce.kind, CLOUD_ERR_UNAUTHORIZED);
	assert_string_equal(ce.permission, "fake:List");
	assert_non_null(strstr(ce.e.msg, "listing route tables"));
	assert_int_equal(mutations(&p), 0);
	crec_report_free(&rep);
	crec_owned_free(&own);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_then_steady),
	    cmocka_unit_test(test_remove_unwanted_only_ours),
	    cmocka_unit_test(test_conflict_and_blackhole),
	    cmocka_unit_test(test_scope_and_errors),
	    cmocka_unit_test(test_replan_on_precondition),
	    cmocka_unit_test(test_fenced),
	    cmocka_unit_test(test_markers),
	    cmocka_unit_test(test_list_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
