/* SPDX-License-Identifier: MIT */
/* controller-mock/ha.c: elections, epochs, hold-down, preempt, the config block, the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller-mock/ha.h"
#include "config.h"
#include "jsonu.h"

static struct ctl_connector *conn(struct ctl_store *s, const char *id, int64_t created)
{
	struct ctl_connector *c = calloc(1, sizeof(*c));
	mg_err e = {0};

	assert_non_null(c);
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->network_id, sizeof(c->network_id), "n-0000000a");
	strcpy(c->name, "x");
	c->created_at = created;
	c->version = 1;
	c->enrolled = c->token_used = true;
	c->ha.lease_until_ms = now_mono_ms() + 60000;
	assert_int_equal(store_alloc_addr(s, &c->addr_index, &e), 0);
	assert_int_equal(store_add_conn(s, c, &e), 0);
	return c;
}

static void setup(struct ctl_ctx *ctx)
{
	struct ctl_network *n = calloc(1, sizeof(*n));
	cJSON *j = cJSON_Parse("{\"name\":\"A\",\"subnets\":[\"192.0.2.0/24\"],"
			       "\"ha\":{\"lease_ms\":3000,\"hold_down_ms\":60000}}");
	const char *code;
	struct cidr m;
	mg_err e = {0};

	memset(ctx, 0, sizeof(*ctx));
	assert_int_equal(cidr_parse("100.96.0.0/11", &m, 0, &e), 0);
	store_init(&ctx->store, &m);
	assert_int_equal(wgkey_generate(ctx->hub_priv, &e), 0);
	assert_int_equal(wgkey_public(ctx->hub_priv, ctx->hub_pub, &e), 0);
	strcpy(ctx->hub_endpoint, "192.0.2.1:51820");
	assert_non_null(n);
	assert_int_equal(net_from_json(n, j, NET_CREATE, &code, &e), 0);
	cJSON_Delete(j);
	strcpy(n->id, "n-0000000a");
	assert_int_equal(store_add_net(&ctx->store, n, &e), 0);
}

static struct mg_config render(struct ctl_ctx *ctx, struct ctl_connector *c)
{
	struct mg_config cfg;
	mg_err e = {0};
	char *txt = render_text(ctx, c, &e);

	assert_non_null(txt);
	if (config_parse(txt, strlen(txt), &cfg, &e) < 0)
		fail_msg("%s: %s", e.msg, txt);
	cJSON_free(txt);
	return cfg;
}

static void test_election(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_network *n;
	struct ctl_connector *a, *b;
	struct mg_config cfg;
	(void)st;

	setup(&ctx);
	n = ctx.store.nets[0];
	a = conn(&ctx.store, "c-0000000a", 100);
	/* one connector: active, no HA block */
	assert_int_equal(ha_elect(&ctx), 1);
	assert_string_equal(n->ha.active, a->id);
	assert_int_equal(n->ha.epoch, 1);
	assert_false(ha_enabled(&ctx.store, n));
	cfg = render(&ctx, a);
	assert_false(cfg.ha.present);
	config_free(&cfg);

	/* a second, younger one: a standby; nothing changes */
	b = conn(&ctx.store, "c-0000000b", 200);
	assert_int_equal(ha_elect(&ctx), 0);
	assert_true(ha_enabled(&ctx.store, n));
	assert_true(ha_routes_subnets(&ctx.store, a));
	assert_false(ha_routes_subnets(&ctx.store, b));
	cfg = render(&ctx, b);
	assert_true(cfg.ha.present);
	assert_false(cfg.ha.active);
	assert_int_equal(cfg.ha.epoch, 1);
	assert_int_equal(cfg.ha.lease_ms, 3000);
	assert_int_equal(cfg.ha.n_peers, 1);
	assert_string_equal(cfg.ha.peers[0].id, a->id);
	config_free(&cfg);

	/* the active's long-poll closes: the standby takes over with a higher epoch */
	a->ha.dropped = true;
	assert_int_equal(ha_elect(&ctx), 1);
	assert_string_equal(n->ha.active, b->id);
	assert_int_equal(n->ha.epoch, 2);
	assert_true(a->ha.lapsed);
	assert_int_equal(ha_elect(&ctx), 0); /* stable */

	/* it comes back: held back, standby; no flip-back without preempt */
	ha_renew(&ctx, a);
	assert_false(a->ha.lapsed);
	assert_true(a->ha.hold_until_ms > now_mono_ms());
	assert_int_equal(ha_elect(&ctx), 0);
	assert_string_equal(n->ha.active, b->id);

	/* preempt: not while held back; then the older one takes the role back */
	n->ha.preempt = true;
	assert_int_equal(ha_elect(&ctx), 0);
	a->ha.hold_until_ms = 0;
	assert_int_equal(ha_elect(&ctx), 1);
	assert_string_equal(n->ha.active, a->id);
	assert_int_equal(n->ha.epoch, 3);
	n->ha.preempt = false;

	/* a silent active loses its lease; with nobody live it keeps the role */
	a->ha.lease_until_ms = now_mono_ms() - 1;
	b->ha.lease_until_ms = now_mono_ms() - 1;
	assert_int_equal(ha_elect(&ctx), 0);
	assert_string_equal(n->ha.active, a->id);
	/* the standby comes back first: held back, but the only one live: promoted */
	ha_renew(&ctx, b);
	assert_int_equal(ha_elect(&ctx), 1);
	assert_string_equal(n->ha.active, b->id);
	assert_int_equal(n->ha.epoch, 4);

	/* disabling the active hands the role over too */
	ha_renew(&ctx, a);
	b->disabled = true;
	assert_int_equal(ha_elect(&ctx), 1);
	assert_string_equal(n->ha.active, a->id);
	assert_int_equal(n->ha.epoch, 5);
	store_free(&ctx.store);
}

static void test_store_and_api(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_store back;
	mg_err e = {0};
	const char *code;
	char *txt;
	cJSON *j;
	(void)st;

	setup(&ctx);
	conn(&ctx.store, "c-0000000a", 100);
	conn(&ctx.store, "c-0000000b", 200);
	ctx.store.nets[0]->ha.epoch = 41;
	ctx.store.conns[1]->ha.dropped = false;
	assert_int_equal(ha_elect(&ctx), 1);
	assert_int_equal(ctx.store.nets[0]->ha.epoch, 42);
	txt = store_to_json(&ctx.store, &e);
	assert_non_null(txt);
	store_init(&back, &ctx.store.mesh);
	if (store_load_json(&back, txt, strlen(txt), &e) < 0)
		fail_msg("%s", e.msg);
	cJSON_free(txt);
	assert_int_equal(back.nets[0]->ha.epoch, 42);
	assert_string_equal(back.nets[0]->ha.active, "c-0000000a");
	assert_int_equal(back.nets[0]->ha.lease_ms, 3000);
	assert_int_equal(back.nets[0]->ha.hold_down_ms, 60000);
	store_free(&back);

	/* the API may set the settings, never the state */
	j = cJSON_Parse("{\"ha\":{\"epoch\":1}}");
	assert_int_equal(net_from_json(ctx.store.nets[0], j, NET_PATCH, &code, &e), -1);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"ha\":{\"lease_ms\":10}}");
	assert_int_equal(net_from_json(ctx.store.nets[0], j, NET_PATCH, &code, &e), -1);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"ha\":{\"preempt\":true}}");
	assert_int_equal(net_from_json(ctx.store.nets[0], j, NET_PATCH, &code, &e), 0);
	cJSON_Delete(j);
	assert_true(ctx.store.nets[0]->ha.preempt);
	assert_int_equal(ctx.store.nets[0]->ha.epoch, 42);
	store_free(&ctx.store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_election),
	    cmocka_unit_test(test_store_and_api),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
