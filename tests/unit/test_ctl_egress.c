/* SPDX-License-Identifier: MIT */
/* controller-mock internet egress: which hub peer gets the default routes (the egress
 * network's active connector only), one egress network at most, and the full-tunnel
 * user's AllowedIPs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl.h"
#include "egress.h"
#include "hub.h"

static struct ctl_network *net(struct ctl_store *s, const char *id, const char *json)
{
	struct ctl_network *n = calloc(1, sizeof(*n));
	const char *code;
	mg_err e = {0};
	cJSON *j = cJSON_Parse(json);

	assert_non_null(n);
	assert_non_null(j);
	assert_int_equal(net_from_json(n, j, NET_CREATE, &code, &e), 0);
	snprintf(n->id, sizeof(n->id), "%s", id);
	cJSON_Delete(j);
	assert_int_equal(store_add_net(s, n, &e), 0);
	return n;
}

static struct ctl_connector *conn(struct ctl_store *s, const char *id, const char *net_id,
				  uint8_t key)
{
	struct ctl_connector *c = calloc(1, sizeof(*c));
	mg_err e = {0};

	assert_non_null(c);
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->network_id, sizeof(c->network_id), "%s", net_id);
	strcpy(c->name, "x");
	c->enrolled = c->token_used = true;
	c->version = 1;
	c->public_key[0] = key;
	assert_int_equal(store_alloc_addr(s, &c->addr_index, &e), 0);
	assert_int_equal(store_add_conn(s, c, &e), 0);
	return c;
}

static struct ctl_user *user(struct ctl_store *s, const char *id, uint8_t key, bool full)
{
	struct ctl_user *u = calloc(1, sizeof(*u));
	mg_err e = {0};

	assert_non_null(u);
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->name, sizeof(u->name), "laptop %s", id);
	u->public_key[0] = key;
	u->full_tunnel = full;
	assert_int_equal(store_alloc_addr(s, &u->addr_index, &e), 0);
	assert_int_equal(store_add_user(s, u, &e), 0);
	return u;
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

/* The allowed IPs of the peer of `owner`, as "a b c". */
static void allowed_of(struct ctl_ctx *ctx, const char *owner, char *out, size_t len)
{
	struct hub_peer *v;
	size_t n, off = 0;
	mg_err e = {0};
	char b[CIDR_STRLEN];

	out[0] = '\0';
	assert_int_equal(hub_desired_peers(ctx, &v, &n, &e), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].owner_id, owner) != 0)
			continue;
		for (size_t k = 0; k < v[i].n_allowed; k++)
			off += (size_t)snprintf(out + off, len - off, "%s%s", k ? " " : "",
						cidr_format(&v[i].allowed[k], b));
	}
	hub_peers_free(v, n);
}

static void test_hub_peers(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_network *a, *b;
	struct ctl_connector *ca, *cb1, *cb2;
	char got[512];

	(void)st;
	setup_ctx(&ctx);
	a = net(&ctx.store, "n-0000000a", "{\"name\":\"A\",\"subnets\":[\"198.51.100.0/24\"]}");
	b = net(&ctx.store, "n-0000000b",
		"{\"name\":\"B\",\"subnets\":[\"192.0.2.0/24\"],\"egress\":true}");
	ca = conn(&ctx.store, "c-0000000a", a->id, 1);  /* 100.96.0.2 */
	cb1 = conn(&ctx.store, "c-000000b1", b->id, 2); /* 100.96.0.3 */
	cb2 = conn(&ctx.store, "c-000000b2", b->id, 3); /* 100.96.0.4 */
	assert_ptr_equal(egress_net(&ctx.store), b);
	/* B is an HA network: only its active connector carries the internet */
	strcpy(b->ha.active, cb1->id);
	allowed_of(&ctx, ca->id, got, sizeof(got));
	assert_string_equal(got, "100.96.0.2/32 198.51.100.0/24");
	allowed_of(&ctx, cb1->id, got, sizeof(got));
	assert_string_equal(got, "100.96.0.3/32 192.0.2.0/24 0.0.0.0/0 ::/0");
	allowed_of(&ctx, cb2->id, got, sizeof(got));
	assert_string_equal(got, "100.96.0.4/32");
	/* a takeover moves the default routes with the subnets */
	strcpy(b->ha.active, cb2->id);
	allowed_of(&ctx, cb1->id, got, sizeof(got));
	assert_string_equal(got, "100.96.0.3/32");
	allowed_of(&ctx, cb2->id, got, sizeof(got));
	assert_string_equal(got, "100.96.0.4/32 192.0.2.0/24 0.0.0.0/0 ::/0");
	/* a disabled connector carries nothing */
	cb2->disabled = true;
	assert_false(egress_conn_exits(&ctx.store, cb2));
	allowed_of(&ctx, cb2->id, got, sizeof(got));
	assert_string_equal(got, "");
	/* egress off: nobody has the default routes */
	cb2->disabled = false;
	b->egress = false;
	allowed_of(&ctx, cb2->id, got, sizeof(got));
	assert_string_equal(got, "100.96.0.4/32 192.0.2.0/24");
	assert_null(egress_net(&ctx.store));
	store_free(&ctx.store);
}

static void test_one_egress_network(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_network *a, *b, other = {0};
	mg_err e = {0};

	(void)st;
	setup_ctx(&ctx);
	a = net(&ctx.store, "n-0000000a", "{\"name\":\"A\",\"egress\":true}");
	b = net(&ctx.store, "n-0000000b", "{\"name\":\"B\"}");
	/* the egress network itself may stay egress (a PATCH of another field) */
	assert_int_equal(egress_check_conflict(&ctx.store, a, &e), 0);
	assert_int_equal(egress_check_conflict(&ctx.store, b, &e), 0);
	other = *b;
	other.egress = true; /* B patched to egress while A is */
	assert_int_equal(egress_check_conflict(&ctx.store, &other, &e), -1);
	assert_non_null(strstr(e.msg, "n-0000000a (A) is already the internet egress"));
	a->egress = false;
	assert_int_equal(egress_check_conflict(&ctx.store, &other, &e), 0);
	store_free(&ctx.store);
}

static void test_config_text(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_network *b;
	struct ctl_user *full, *split;
	mg_err e = {0};
	char *txt;

	(void)st;
	setup_ctx(&ctx);
	net(&ctx.store, "n-0000000a", "{\"name\":\"A\",\"subnets\":[\"198.51.100.0/24\"]}");
	b = net(&ctx.store, "n-0000000b",
		"{\"name\":\"B\",\"subnets\":[\"192.0.2.0/24\"],\"egress\":true}");
	full = user(&ctx.store, "u-00000001", 1, true);
	split = user(&ctx.store, "u-00000002", 2, false);
	txt = user_config_text(&ctx, full, NULL, &e);
	assert_non_null(txt);
	assert_non_null(strstr(txt, "\nAllowedIPs = 0.0.0.0/0, ::/0\n"));
	assert_null(strstr(txt, "DNS"));
	free(txt);
	txt = user_config_text(&ctx, split, NULL, &e);
	assert_non_null(txt);
	assert_non_null(
	    strstr(txt, "\nAllowedIPs = 100.96.0.0/11, 192.0.2.0/24, 198.51.100.0/24\n"));
	free(txt);
	/* no egress network any more: the full-tunnel user gets the split config */
	b->egress = false;
	txt = user_config_text(&ctx, full, NULL, &e);
	assert_non_null(txt);
	assert_non_null(
	    strstr(txt, "\nAllowedIPs = 100.96.0.0/11, 192.0.2.0/24, 198.51.100.0/24\n"));
	free(txt);
	store_free(&ctx.store);
}

static void test_store_round_trip(void **st)
{
	struct ctl_ctx ctx, back;
	mg_err e = {0};
	char *txt;

	(void)st;
	setup_ctx(&ctx);
	setup_ctx(&back);
	user(&ctx.store, "u-00000001", 1, true);
	user(&ctx.store, "u-00000002", 2, false);
	txt = store_to_json(&ctx.store, &e);
	assert_non_null(txt);
	assert_int_equal(store_load_json(&back.store, txt, strlen(txt), &e), 0);
	assert_true(store_find_user(&back.store, "u-00000001")->full_tunnel);
	assert_false(store_find_user(&back.store, "u-00000002")->full_tunnel);
	free(txt);
	store_free(&ctx.store);
	store_free(&back.store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hub_peers),
	    cmocka_unit_test(test_one_egress_network),
	    cmocka_unit_test(test_config_text),
	    cmocka_unit_test(test_store_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
