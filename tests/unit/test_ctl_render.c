/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl.h"
#include "jsonu.h"

static struct ctl_network *net(const char *id, const char *json)
{
	struct ctl_network *n = calloc(1, sizeof(*n));
	const char *code;
	mg_err e = {0};
	cJSON *j = cJSON_Parse(json);

	assert_non_null(n);
	assert_int_equal(net_from_json(n, j, NET_CREATE, &code, &e), 0);
	snprintf(n->id, sizeof(n->id), "%s", id);
	cJSON_Delete(j);
	return n;
}

static struct ctl_connector *conn(struct ctl_store *s, const char *id, const char *net_id)
{
	struct ctl_connector *c = calloc(1, sizeof(*c));
	mg_err e = {0};

	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->network_id, sizeof(c->network_id), "%s", net_id);
	strcpy(c->name, "x");
	c->enrolled = c->token_used = true;
	assert_int_equal(store_alloc_addr(s, &c->addr_index, &e), 0);
	assert_int_equal(store_add_conn(s, c, &e), 0);
	return c;
}

static void setup_ctx(struct ctl_ctx *ctx)
{
	struct cidr m;
	mg_err e = {0};

	memset(ctx, 0, sizeof(*ctx));
	assert_int_equal(cidr_parse("100.96.0.0/11", &m, 0, &e), 0);
	store_init(&ctx->store, &m);
	assert_int_equal(wgkey_generate(ctx->hub_priv, &e), 0);
	assert_int_equal(wgkey_public(ctx->hub_priv, ctx->hub_pub, &e), 0);
	strcpy(ctx->hub_endpoint, "192.0.2.1:51820");
}

static void test_render(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_connector *a, *b;
	struct mg_config cfg;
	mg_err e = {0};
	char *txt, buf[CIDR_STRLEN];
	const char *code;
	cJSON *patch;

	(void)st;
	setup_ctx(&ctx);
	assert_int_equal(
	    store_add_net(&ctx.store,
			  net("n-0000000a",
			      "{\"name\":\"A\",\"subnets\":[\"192.0.2.0/24\"],"
			      "\"nat\":{\"enabled\":true,\"exclude\":[\"192.0.2.128/25\"]},"
			      "\"access\":[{\"cidr\":\"192.0.2.0/24\",\"mode\":\"ports\","
			      "\"ports\":[\"tcp/443\"]}],\"manage_cloud_routes\":true}"),
			  &e),
	    0);
	assert_int_equal(
	    store_add_net(&ctx.store,
			  net("n-0000000b", "{\"name\":\"B\",\"subnets\":"
					    "[\"203.0.113.0/24\",\"198.51.100.0/24\"]}"),
			  &e),
	    0);
	a = conn(&ctx.store, "c-0000000a", "n-0000000a");
	b = conn(&ctx.store, "c-0000000b", "n-0000000b");
	assert_int_equal(render_refresh(&ctx, &e), 2);
	assert_int_equal(a->version, 1);
	assert_int_equal(render_refresh(&ctx, &e), 0); /* nothing changed: no bump */
	assert_int_equal(a->version, 1);

	txt = render_text(&ctx, a, &e);
	assert_non_null(txt);
	assert_int_equal(config_parse(txt, strlen(txt), &cfg, &e), 0);
	cJSON_free(txt);
	assert_int_equal(cfg.version, 1);
	assert_int_equal(cfg.n_routes, 3);
	assert_string_equal(cidr_format(&cfg.routes[0], buf), "100.96.0.0/11");
	assert_string_equal(cidr_format(&cfg.routes[1], buf), "198.51.100.0/24");
	assert_string_equal(cidr_format(&cfg.routes[2], buf), "203.0.113.0/24");
	assert_int_equal(cfg.n_advertised, 1);
	assert_true(cfg.nat.enabled);
	assert_int_equal(cfg.n_access, 1);
	assert_int_equal(cfg.access[0].mode, ACCESS_PORTS);
	assert_true(cfg.cloud.manage_routes);
	assert_int_equal(cfg.cloud.n_destinations, 3);
	assert_string_equal(cidr_format(&cfg.tunnel.address, buf), "100.96.0.2/11");
	assert_memory_equal(cfg.tunnel.hub_public_key, ctx.hub_pub, 32);
	config_free(&cfg);

	/* changing B's subnets bumps A (its routes) and B (its advertised subnets) */
	patch = cJSON_Parse("{\"subnets\":[\"203.0.113.0/25\"]}");
	assert_int_equal(net_from_json(ctx.store.nets[1], patch, NET_PATCH, &code, &e), 0);
	cJSON_Delete(patch);
	assert_int_equal(render_refresh(&ctx, &e), 2);
	assert_int_equal(a->version, 2);
	assert_int_equal(b->version, 2);
	/* renaming B changes nothing rendered */
	patch = cJSON_Parse("{\"name\":\"B2\"}");
	assert_int_equal(net_from_json(ctx.store.nets[1], patch, NET_PATCH, &code, &e), 0);
	cJSON_Delete(patch);
	assert_int_equal(render_refresh(&ctx, &e), 0);
	/* a bad patch leaves the network untouched */
	patch = cJSON_Parse("{\"subnets\":[\"10.0.0.1/8\"],\"egress\":true}");
	assert_int_not_equal(net_from_json(ctx.store.nets[1], patch, NET_PATCH, &code, &e), 0);
	assert_string_equal(code, "invalid_cidr");
	cJSON_Delete(patch);
	assert_false(ctx.store.nets[1]->egress);
	assert_int_equal(render_refresh(&ctx, &e), 0);
	store_free(&ctx.store);
}

/* Lazy rendering: a mark changes no version; settling bumps only a changed document; the
 * kept text answers exactly what a fresh render would; an enrolment is settled at once. */
static void test_lazy(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_connector *a, *b, *fresh;
	mg_err e = {0};
	const char *code;
	char *want, *got;
	cJSON *patch;

	(void)st;
	setup_ctx(&ctx);
	assert_int_equal(
	    store_add_net(&ctx.store,
			  net("n-0000000a", "{\"name\":\"A\",\"subnets\":[\"192.0.2.0/24\"]}"), &e),
	    0);
	assert_int_equal(
	    store_add_net(&ctx.store,
			  net("n-0000000b", "{\"name\":\"B\",\"subnets\":[\"203.0.113.0/24\"]}"),
			  &e),
	    0);
	a = conn(&ctx.store, "c-0000000a", "n-0000000a");
	b = conn(&ctx.store, "c-0000000b", "n-0000000b");
	assert_int_equal(render_refresh(&ctx, &e), 2);

	/* B's subnets change: both marked, no version moves until settled */
	patch = cJSON_Parse("{\"subnets\":[\"203.0.113.0/25\"]}");
	assert_int_equal(net_from_json(ctx.store.nets[1], patch, NET_PATCH, &code, &e), 0);
	cJSON_Delete(patch);
	assert_int_equal(render_mark(&ctx, a, &e), 0);
	assert_int_equal(render_mark(&ctx, b, &e), 0);
	assert_true(a->stale && b->stale);
	assert_int_equal(a->version, 1);
	assert_int_equal(render_settle(&ctx, a, true, &e), 1);
	assert_int_equal(a->version, 2);
	assert_false(a->stale);
	assert_int_equal(render_settle(&ctx, a, true, &e), 0); /* settled: nothing to do */
	assert_int_equal(a->version, 2);
	/* the kept text, with the version put in, is what a render gives */
	assert_int_equal(render_settle(&ctx, b, true, &e), 1);
	assert_non_null(b->doc0);
	want = render_text(&ctx, b, &e);
	got = render_answer(&ctx, b, &e);
	assert_non_null(want);
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_null(b->doc0);
	cJSON_free(want);
	cJSON_free(got);

	/* a change and its undoing between two looks: the same document, the same version */
	patch = cJSON_Parse("{\"subnets\":[\"203.0.113.0/24\"]}");
	assert_int_equal(net_from_json(ctx.store.nets[1], patch, NET_PATCH, &code, &e), 0);
	cJSON_Delete(patch);
	assert_int_equal(render_mark(&ctx, a, &e), 0);
	patch = cJSON_Parse("{\"subnets\":[\"203.0.113.0/25\"]}");
	assert_int_equal(net_from_json(ctx.store.nets[1], patch, NET_PATCH, &code, &e), 0);
	cJSON_Delete(patch);
	assert_int_equal(render_mark(&ctx, a, &e), 0);
	assert_int_equal(render_settle(&ctx, a, false, &e), 0);
	assert_int_equal(a->version, 2);
	/* a renaming bumps nobody, marked or not */
	patch = cJSON_Parse("{\"name\":\"B2\"}");
	assert_int_equal(net_from_json(ctx.store.nets[1], patch, NET_PATCH, &code, &e), 0);
	cJSON_Delete(patch);
	assert_int_equal(render_mark(&ctx, b, &e), 0);
	assert_int_equal(render_settle(&ctx, b, false, &e), 0);
	assert_int_equal(b->version, 2);
	/* a stale kept text is never answered: a change after the settle renders afresh */
	assert_int_equal(render_mark(&ctx, a, &e), 0);
	assert_int_equal(render_settle(&ctx, a, true, &e), 0);
	assert_non_null(a->doc0);
	patch = cJSON_Parse("{\"subnets\":[\"198.51.100.0/24\"]}");
	assert_int_equal(net_from_json(ctx.store.nets[1], patch, NET_PATCH, &code, &e), 0);
	cJSON_Delete(patch);
	assert_int_equal(render_mark(&ctx, a, &e), 0);
	assert_null(a->doc0);
	assert_int_equal(render_settle(&ctx, a, true, &e), 1);
	got = render_answer(&ctx, a, &e);
	assert_non_null(got);
	assert_non_null(strstr(got, "\"198.51.100.0/24\""));
	assert_non_null(strstr(got, "{\"version\":3,"));
	cJSON_free(got);

	/* just enrolled (version 0): a mark settles it at once, to version 1 */
	fresh = conn(&ctx.store, "c-0000000c", "n-0000000a");
	assert_int_equal(render_mark(&ctx, fresh, &e), 1);
	assert_int_equal(fresh->version, 1);
	assert_false(fresh->stale);
	/* revoked: never marked */
	fresh->revoked = true;
	assert_int_equal(render_mark(&ctx, fresh, &e), 0);
	assert_false(fresh->stale);
	store_free(&ctx.store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_lazy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
