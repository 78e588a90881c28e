/* SPDX-License-Identifier: MIT */
/* The dual-stack mesh: IPv6 addresses at the v4 index, store migration, what the
 * config, the user's wg-quick config and the hub's peers carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl.h"
#include "fsutil.h"
#include "hub.h"
#include "jsonu.h"

#define MESH  "100.96.0.0/11"
#define MESH6 "fd6d:6773::/64"

static struct cidr cidr(const char *s)
{
	struct cidr c;
	mg_err e = {0};
	assert_int_equal(cidr_parse(s, &c, 0, &e), 0);
	return c;
}

static void init(struct ctl_store *s, const char *m6)
{
	struct cidr m = cidr(MESH), m6c;

	store_init(s, &m);
	if (m6) {
		m6c = cidr(m6);
		store_set_mesh6(s, &m6c);
	} else {
		store_set_mesh6(s, NULL);
	}
}

static void test_alloc(void **st)
{
	struct ctl_store s;
	struct cidr a, m, m6;
	mg_err e = {0};
	char b[CIDR_STRLEN];
	uint64_t i;

	(void)st;
	init(&s, MESH6);
	assert_int_equal(store_alloc_addr(&s, &i, &e), 0);
	assert_int_equal(i, 2);
	assert_true(store_addr6(&s, i, &a));
	assert_string_equal(cidr_format(&a, b), "fd6d:6773::2/128");
	s.next_addr = 300;
	assert_int_equal(store_alloc_addr(&s, &i, &e), 0);
	store_addr(&s, i, &a);
	assert_string_equal(cidr_format(&a, b), "100.96.1.44/32");
	assert_true(store_addr6(&s, i, &a));
	assert_string_equal(cidr_format(&a, b), "fd6d:6773::12c/128");
	store_free(&s);

	/* the same index holds both: the smaller range decides when the mesh is full */
	m = cidr("100.96.0.0/24");
	m6 = cidr("fd6d:6773::/126");
	store_init(&s, &m);
	store_set_mesh6(&s, &m6);
	assert_int_equal(store_alloc_addr(&s, &i, &e), 0);
	assert_int_equal(store_alloc_addr(&s, &i, &e), 0);
	assert_int_equal(i, 3);
	assert_int_not_equal(store_alloc_addr(&s, &i, &e), 0);
	assert_non_null(strstr(e.msg, "IPv6 mesh range fd6d:6773::/126"));
	store_free(&s);

	/* none: no IPv6 address */
	init(&s, NULL);
	assert_int_equal(store_alloc_addr(&s, &i, &e), 0);
	assert_false(store_addr6(&s, i, &a));
	store_free(&s);
}

/* A store written before the IPv6 mesh range: one network, one enrolled connector, one
 * user, addresses 2 and 3 handed out. */
static const char OLD_STORE[] =
    "{\"format\":1,\"mesh_range\":\"" MESH "\",\"next_address_index\":4,"
    "\"networks\":[{\"id\":\"n-00000001\",\"name\":\"A\",\"created_at\":1,"
    "\"subnets\":[\"192.0.2.0/24\"]}],"
    "\"connectors\":[{\"id\":\"c-00000001\",\"name\":\"a\",\"network_id\":\"n-00000001\","
    "\"created_at\":1,\"token_sha256\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\","
    "\"token_expires_at\":2,\"token_used\":true,\"disabled\":false,\"revoked\":false,"
    "\"enrolled\":true,\"secret_sha256\":"
    "\"1111111111111111111111111111111111111111111111111111111111111111\","
    "\"public_key\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\",\"address_index\":2,"
    "\"hostname\":\"h\",\"agent_version\":\"0\",\"enrolled_at\":1,\"last_seen\":1,"
    "\"version\":1,\"config_sha256\":"
    "\"2222222222222222222222222222222222222222222222222222222222222222\"}],"
    "\"users\":[{\"id\":\"u-00000001\",\"name\":\"u\",\"created_at\":1,"
    "\"public_key\":\"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\",\"address_index\":3,"
    "\"revoked\":false}]}";

static void test_migration_json(void **st)
{
	struct ctl_store s;
	struct cidr a;
	mg_err e = {0};
	char b[CIDR_STRLEN], *t;

	(void)st;
	/* an old store loads under a dual-stack run; everyone has a v6 address */
	init(&s, MESH6);
	assert_int_equal(store_load_json(&s, OLD_STORE, strlen(OLD_STORE), &e), 0);
	assert_true(store_addr6(&s, s.conns[0]->addr_index, &a));
	assert_string_equal(cidr_format(&a, b), "fd6d:6773::2/128");
	assert_true(store_addr6(&s, s.users[0]->addr_index, &a));
	assert_string_equal(cidr_format(&a, b), "fd6d:6773::3/128");
	t = store_to_json(&s, &e);
	assert_non_null(t);
	assert_non_null(strstr(t, "\"mesh_range6\":\t\"fd6d:6773::/64\""));
	store_free(&s);

	/* written back, it loads again with the same range, and with none (turned off) */
	init(&s, MESH6);
	assert_int_equal(store_load_json(&s, t, strlen(t), &e), 0);
	assert_int_equal(s.n_users, 1);
	store_free(&s);
	init(&s, NULL);
	assert_int_equal(store_load_json(&s, t, strlen(t), &e), 0);
	assert_false(store_addr6(&s, 2, &a));
	store_free(&s);

	/* another range would move every address: refused, naming the store's */
	init(&s, "fd00:1::/64");
	assert_int_not_equal(store_load_json(&s, t, strlen(t), &e), 0);
	assert_non_null(strstr(e.msg, "--mesh-range6 fd6d:6773::/64"));
	store_free(&s);
	cJSON_free(t);

	/* a range too small for the addresses already handed out */
	init(&s, "fd6d:6773::/127");
	assert_int_not_equal(store_load_json(&s, OLD_STORE, strlen(OLD_STORE), &e), 0);
	assert_non_null(strstr(e.msg, "too small"));
	store_free(&s);

	/* a store's mesh_range6 that is not IPv6 */
	{
		const char *bad = "{\"format\":1,\"mesh_range\":\"" MESH "\",\"mesh_range6\":"
				  "\"10.0.0.0/8\",\"next_address_index\":2,\"networks\":[],"
				  "\"connectors\":[]}";
		init(&s, MESH6);
		assert_int_not_equal(store_load_json(&s, bad, strlen(bad), &e), 0);
		store_free(&s);
	}
}

/* The database keeps the range: a migrated store.json refuses another range next time. */
static void test_migration_db(void **st)
{
	char dir[] = "/tmp/mg-test-mesh6-XXXXXX", path[192], db[128];
	struct ctl_store s;
	struct cidr a;
	mg_err e = {0};
	char b[CIDR_STRLEN];

	(void)st;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/" CTL_STORE_LEGACY, dir);
	snprintf(db, sizeof(db), "%s/" CTL_STORE_FILE, dir);
	assert_int_equal(fs_write_atomic(path, OLD_STORE, strlen(OLD_STORE), 0600, &e), 0);
	init(&s, MESH6);
	assert_int_equal(store_load(&s, db, &e), 0);
	assert_int_equal(s.n_conns, 1);
	assert_true(store_addr6(&s, s.conns[0]->addr_index, &a));
	assert_string_equal(cidr_format(&a, b), "fd6d:6773::2/128");
	store_free(&s);

	init(&s, "fd00:1::/64");
	assert_int_not_equal(store_load(&s, db, &e), 0);
	assert_non_null(strstr(e.msg, "fd6d:6773::/64"));
	store_free(&s);
	init(&s, MESH6);
	assert_int_equal(store_load(&s, db, &e), 0);
	store_free(&s);

	snprintf(path, sizeof(path), "%s/" CTL_STORE_LEGACY ".migrated", dir);
	unlink(path);
	unlink(db);
	snprintf(path, sizeof(path), "%s-wal", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void setup_ctx(struct ctl_ctx *ctx, const char *m6)
{
	mg_err e = {0};

	memset(ctx, 0, sizeof(*ctx));
	init(&ctx->store, m6);
	assert_int_equal(wgkey_generate(ctx->hub_priv, &e), 0);
	assert_int_equal(wgkey_public(ctx->hub_priv, ctx->hub_pub, &e), 0);
	strcpy(ctx->hub_endpoint, "[2001:db8::1]:51820");
}

static void test_render_dual(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_user *u;
	struct hub_peer *peers = NULL;
	struct mg_config cfg;
	size_t np = 0;
	mg_err e = {0};
	char *txt, b[CIDR_STRLEN];

	(void)st;
	setup_ctx(&ctx, MESH6);
	assert_int_equal(store_load_json(&ctx.store, OLD_STORE, strlen(OLD_STORE), &e), 0);
	txt = render_text(&ctx, ctx.store.conns[0], &e);
	assert_non_null(txt);
	assert_int_equal(config_parse(txt, strlen(txt), &cfg, &e), 0);
	cJSON_free(txt);
	assert_string_equal(cidr_format(&cfg.tunnel.address, b), "100.96.0.2/11");
	assert_true(cfg.tunnel.has_address6);
	assert_string_equal(cidr_format(&cfg.tunnel.address6, b), "fd6d:6773::2/64");
	assert_string_equal(cfg.tunnel.hub_endpoint, "[2001:db8::1]:51820");
	assert_int_equal(cfg.n_routes, 2); /* the two mesh ranges (its own subnet is not one) */
	assert_string_equal(cidr_format(&cfg.routes[0], b), MESH);
	assert_string_equal(cidr_format(&cfg.routes[1], b), MESH6);
	/* cloud route tables: the IPv4 mesh range only */
	assert_int_equal(cfg.cloud.n_destinations, 1);
	assert_string_equal(cidr_format(&cfg.cloud.destinations[0], b), MESH);
	config_free(&cfg);

	u = ctx.store.users[0];
	txt = user_config_text(&ctx, u, NULL, &e);
	assert_non_null(txt);
	assert_non_null(strstr(txt, "Address = 100.96.0.3/32, fd6d:6773::3/128\n"));
	assert_non_null(strstr(txt, "AllowedIPs = " MESH ", " MESH6 ", 192.0.2.0/24\n"));
	assert_non_null(strstr(txt, "Endpoint = [2001:db8::1]:51820\n"));
	free(txt);

	assert_int_equal(hub_desired_peers(&ctx, &peers, &np, &e), 0);
	assert_int_equal(np, 2);
	assert_int_equal(peers[0].n_own, 2);
	assert_int_equal(peers[0].n_allowed, 3);
	assert_string_equal(cidr_format(&peers[0].allowed[0], b), "100.96.0.2/32");
	assert_string_equal(cidr_format(&peers[0].allowed[1], b), "fd6d:6773::2/128");
	assert_string_equal(cidr_format(&peers[0].allowed[2], b), "192.0.2.0/24");
	assert_int_equal(peers[1].n_allowed, 2);
	assert_string_equal(cidr_format(&peers[1].allowed[1], b), "fd6d:6773::3/128");
	hub_peers_free(peers, np);
	store_free(&ctx.store);

	/* IPv4 only: as before */
	setup_ctx(&ctx, NULL);
	assert_int_equal(store_load_json(&ctx.store, OLD_STORE, strlen(OLD_STORE), &e), 0);
	txt = render_text(&ctx, ctx.store.conns[0], &e);
	assert_non_null(txt);
	assert_null(strstr(txt, "address6"));
	cJSON_free(txt);
	txt = user_config_text(&ctx, ctx.store.users[0], NULL, &e);
	assert_non_null(strstr(txt, "Address = 100.96.0.3/32\n"));
	assert_non_null(strstr(txt, "AllowedIPs = " MESH ", 192.0.2.0/24\n"));
	free(txt);
	assert_int_equal(hub_desired_peers(&ctx, &peers, &np, &e), 0);
	assert_int_equal(peers[0].n_own, 1);
	assert_int_equal(peers[0].n_allowed, 2);
	hub_peers_free(peers, np);
	store_free(&ctx.store);
}

/* A subnet inside the IPv6 mesh range is refused like one inside the IPv4 range. */
static void test_subnet_conflict(void **st)
{
	struct ctl_store s;
	struct ctl_network n = {0};
	struct cidr sub = cidr("fd6d:6773::/80");
	mg_err e = {0};

	(void)st;
	init(&s, MESH6);
	strcpy(n.id, "n-00000009");
	n.subnets = &sub;
	n.n_subnets = 1;
	assert_int_not_equal(net_check_conflicts(&s, &n, &e), 0);
	assert_non_null(strstr(e.msg, "IPv6 mesh range"));
	sub = cidr("fd6d:6774::/64");
	assert_int_equal(net_check_conflicts(&s, &n, &e), 0);
	store_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alloc),           cmocka_unit_test(test_migration_json),
	    cmocka_unit_test(test_migration_db),    cmocka_unit_test(test_render_dual),
	    cmocka_unit_test(test_subnet_conflict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
