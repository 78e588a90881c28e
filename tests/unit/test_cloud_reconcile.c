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

struct froute {
	struct cidr dst;
	char target[CLOUD_ID_LEN]; /* "eni-us", "eni-other", "igw-1", "" (blackhole) */
	char origin[32];
};

struct ftable {
	char id[CLOUD_ID_LEN];
	struct froute r[MAXR];
	size_t n;
};

struct cloud_provider {
	struct ftable t[4];
	size_t nt;
	int lists, creates, replaces, deletes;
	int fail_next; /* the next mutating call fails */
};

static struct cidr P(const char *s)
{
	struct cidr c;
	assert_int_equal(cidr_parse(s, &c, 0, NULL), 0);
	return c;
}

static struct froute *ffind(struct ftable *t, const struct cidr *d)
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

static int f_list(struct cloud_provider *p, const struct cloud_identity *id,
		  const char *const *ids, size_t n_ids, struct cloud_route_tables *out, mg_err *e)
{
	(void)id;
	p->lists++;
	for (size_t i = 0; i < p->nt; i++) {
		bool in = n_ids == 0;
		for (size_t k = 0; k < n_ids; k++)
			in |= !strcmp(ids[k], p->t[i].id);
		if (!in)
			continue;
		struct cloud_route_table *t = cloud_route_tables_add(out, e);
		if (!t)
			return -1;
		snprintf(t->id, sizeof(t->id), "%s", p->t[i].id);
		for (size_t j = 0; j < p->t[i].n; j++) {
			struct cloud_route *r = cloud_route_table_add(t, e);
			const struct froute *f = &p->t[i].r[j];
			if (!r)
				return -1;
			r->has_dst = true;
			r->dst = f->dst;
			snprintf(r->origin, sizeof(r->origin), "%s", f->origin);
			if (!f->target[0]) {
				r->state = CLOUD_ROUTE_BLACKHOLE;
				r->target_kind = CLOUD_TARGET_NIC;
				snprintf(r->target_id, sizeof(r->target_id), "eni-deleted");
			} else {
				r->state = CLOUD_ROUTE_ACTIVE;
				r->target_kind = !strncmp(f->target, "eni-", 4) ? CLOUD_TARGET_NIC
										 : CLOUD_TARGET_GATEWAY;
				snprintf(r->target_id, sizeof(r->target_id), "%s", f->target);
				if (r->target_kind == CLOUD_TARGET_NIC)
					snprintf(r->nic_id, sizeof(r->nic_id), "%s", f->target);
			}
		}
	}
	return 0;
}

static int f_upsert(struct cloud_provider *p, const struct cloud_identity *id, const char *tid,
		    const struct cidr *dst, bool takeover, enum cloud_upsert_result *res,
		    mg_err *e)
{
	struct ftable *t = ftab(p, tid);
	struct froute *r = ffind(t, dst);

	if (p->fail_next) {
		p->fail_next--;
		return mg_err_set(e, "RequestLimitExceeded (injected)");
	}
	if (!r) {
		assert_true(t->n < MAXR);
		r = &t->r[t->n++];
		r->dst = *dst;
		snprintf(r->target, sizeof(r->target), "%s", id->nic_id);
		snprintf(r->origin, sizeof(r->origin), "CreateRoute");
		p->creates++;
		*res = CLOUD_UPSERT_CREATED;
		return 0;
	}
	if (!strcmp(r->target, id->nic_id)) {
		*res = CLOUD_UPSERT_UNCHANGED;
		return 0;
	}
	if (r->target[0] && !takeover) {
		*res = CLOUD_UPSERT_CONFLICT;
		return mg_err_set(e, "RouteAlreadyExists to %s", r->target);
	}
	snprintf(r->target, sizeof(r->target), "%s", id->nic_id);
	p->replaces++;
	*res = CLOUD_UPSERT_REPLACED;
	return 0;
}

static int f_delete(struct cloud_provider *p, const char *tid, const struct cidr *dst, mg_err *e)
{
	struct ftable *t = ftab(p, tid);
	struct froute *r = ffind(t, dst);

	if (p->fail_next) {
		p->fail_next--;
		return mg_err_set(e, "InternalError (injected)");
	}
	p->deletes++;
	if (r)
		*r = t->r[--t->n];
	return 0;
}

static const struct cloud_provider_ops fake = {
	.name = "fake",
	.list_route_tables = f_list,
	.upsert_route = f_upsert,
	.delete_route = f_delete,
};

static void add_route(struct cloud_provider *p, int t, const char *dst, const char *target,
		      const char *origin)
{
	struct froute *r = &p->t[t].r[p->t[t].n++];
	r->dst = P(dst);
	snprintf(r->target, sizeof(r->target), "%s", target);
	snprintf(r->origin, sizeof(r->origin), "%s", origin);
}

static void setup_vpc(struct cloud_provider *p, struct cloud_identity *id)
{
	memset(p, 0, sizeof(*p));
	memset(id, 0, sizeof(*id));
	snprintf(id->nic_id, sizeof(id->nic_id), "eni-us");
	snprintf(id->instance_id, sizeof(id->instance_id), "i-us");
	id->net_cidrs[0] = P("10.0.0.0/16");
	id->n_net_cidrs = 1;
	p->nt = 2;
	snprintf(p->t[0].id, sizeof(p->t[0].id), "rtb-main");
	snprintf(p->t[1].id, sizeof(p->t[1].id), "rtb-b");
	for (int t = 0; t < 2; t++) {
		add_route(p, t, "10.0.0.0/16", "local", "CreateRouteTable");
		add_route(p, t, "0.0.0.0/0", "igw-1", "CreateRoute");
	}
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
	assert_int_equal(crec_run(&fake, &p, &id, NULL, 0, want, 3, false, &own, &rep, NULL), 0);
	assert_int_equal(rep.creates, 4); /* 2 destinations x 2 tables */
	assert_int_equal(rep.skipped_local, 1); /* 10.0.5.0/24 is inside the VPC */
	assert_int_equal(own.n, 4);
	assert_int_equal(rep.tables[0].owned, 2);
	crec_report_free(&rep);

	/* restart: nothing to do, not a single mutating call */
	int before = mutations(&p);
	assert_int_equal(crec_run(&fake, &p, &id, NULL, 0, want, 3, false, &own, &rep, NULL), 0);
	assert_int_equal(mutations(&p), before);
	assert_int_equal(rep.unchanged, 4);
	crec_report_free(&rep);

	/* state lost: routes to our NIC are ours by rule, still no call */
	crec_owned_free(&own);
	assert_int_equal(crec_run(&fake, &p, &id, NULL, 0, want, 3, false, &own, &rep, NULL), 0);
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
	assert_int_equal(crec_run(&fake, &p, &id, NULL, 0, want, 2, false, &own, &rep, NULL), 0);
	crec_report_free(&rep);
	/* the second site goes away */
	assert_int_equal(crec_run(&fake, &p, &id, NULL, 0, want, 1, false, &own, &rep, NULL), 0);
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
	assert_int_equal(crec_teardown(&fake, &p, &id, &own, &deleted, NULL), 0);
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
	assert_int_equal(crec_run(&fake, &p, &id, NULL, 0, want, 2, false, &own, &rep, NULL), 0);
	assert_int_equal(rep.conflicts, 1);
	assert_int_equal(rep.tables[0].conflicts, 1);
	assert_non_null(strstr(rep.tables[0].conflict, "192.0.2.0/24"));
	assert_non_null(strstr(rep.tables[0].conflict, "eni-other"));
	assert_string_equal(ffind(&p.t[0], &want[1])->target, "eni-other"); /* untouched */
	assert_int_equal(rep.replaces, 1); /* the blackhole */
	assert_string_equal(ffind(&p.t[1], &want[0])->target, "eni-us");
	crec_report_free(&rep);

	/* takeover replaces the foreign route */
	assert_int_equal(crec_run(&fake, &p, &id, NULL, 0, want, 2, true, &own, &rep, NULL), 0);
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
	(void)state;

	setup_vpc(&p, &id);
	assert_int_equal(crec_run(&fake, &p, &id, scope, 1, want, 1, false, &own, &rep, NULL), 0);
	assert_int_equal(rep.n_tables, 1);
	assert_null(ffind(&p.t[0], &want[0])); /* out of scope: untouched */
	assert_non_null(ffind(&p.t[1], &want[0]));
	crec_report_free(&rep);

	/* a failing call is reported per table, the next run converges */
	struct cidr want2[] = {P("100.96.0.0/11"), P("198.51.100.0/24")};
	p.fail_next = 1;
	assert_int_equal(crec_run(&fake, &p, &id, scope, 1, want2, 2, false, &own, &rep, NULL), 0);
	assert_int_equal(rep.errors, 1);
	assert_non_null(strstr(rep.tables[0].last_error, "198.51.100.0/24"));
	crec_report_free(&rep);
	assert_int_equal(crec_run(&fake, &p, &id, scope, 1, want2, 2, false, &own, &rep, NULL), 0);
	assert_int_equal(rep.errors, 0);
	assert_int_equal(rep.creates, 1);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
