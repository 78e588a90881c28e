/* SPDX-License-Identifier: MIT */
/* controller-mock remote users: store round trip, address allocation, hub peers, and the
 * exact wg-quick config text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl.h"
#include "hub.h"
#include "jsonu.h"

static struct ctl_network *net(const char *id, const char *json)
{
	struct ctl_network *n = calloc(1, sizeof(*n));
	const char *code;
	mg_err e = {0};
	cJSON *j = cJSON_Parse(json);

	assert_non_null(n);
	assert_non_null(j);
	assert_int_equal(net_from_json(n, j, NET_CREATE, &code, &e), 0);
	snprintf(n->id, sizeof(n->id), "%s", id);
	n->created_at = 1000;
	cJSON_Delete(j);
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

static struct ctl_user *user(struct ctl_store *s, const char *id, uint8_t key)
{
	struct ctl_user *u = calloc(1, sizeof(*u));
	mg_err e = {0};

	assert_non_null(u);
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->name, sizeof(u->name), "laptop %s", id);
	u->created_at = 2000;
	u->public_key[0] = key;
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

static mg_err load_err;

static char *reload(struct ctl_store *b, const struct ctl_store *a, int expect_rc)
{
	char *t = store_to_json(a, &load_err);

	assert_non_null(t);
	store_init(b, &a->mesh);
	load_err.msg[0] = '\0';
	assert_int_equal(store_load_json(b, t, strlen(t), &load_err), expect_rc);
	return t;
}

static void test_round_trip(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_store b;
	mg_err e = {0};
	char *t1, *t2;

	(void)st;
	setup_ctx(&ctx);
	assert_int_equal(store_add_net(&ctx.store, net("n-00000001", "{\"name\":\"A\"}"), &e), 0);
	conn(&ctx.store, "c-00000001", "n-00000001", 1);
	user(&ctx.store, "u-00000001", 2);
	user(&ctx.store, "u-00000002", 3)->revoked = true;
	t1 = reload(&b, &ctx.store, 0);
	t2 = store_to_json(&b, &e);
	assert_non_null(t2);
	assert_string_equal(t1, t2);
	assert_int_equal(b.n_users, 2);
	assert_string_equal(b.users[0]->id, "u-00000001");
	assert_string_equal(b.users[0]->name, "laptop u-00000001");
	assert_int_equal(b.users[0]->created_at, 2000);
	assert_int_equal(b.users[0]->addr_index, 3);
	assert_int_equal(b.users[0]->public_key[0], 2);
	assert_false(b.users[0]->revoked);
	assert_true(b.users[1]->revoked);
	assert_int_equal(b.next_addr, 5);
	assert_ptr_equal(store_find_user(&b, "u-00000002"), b.users[1]);
	assert_null(store_find_user(&b, "u-00000003"));
	cJSON_free(t1);
	cJSON_free(t2);
	store_free(&b);
	store_free(&ctx.store);
}

static void test_old_store_loads(void **st)
{
	static const char old[] = "{\"format\":1,\"mesh_range\":\"100.96.0.0/11\","
				  "\"next_address_index\":2,\"networks\":[],\"connectors\":[]}";
	struct ctl_store s;
	struct cidr m;
	mg_err e = {0};

	(void)st;
	assert_int_equal(cidr_parse("100.96.0.0/11", &m, 0, &e), 0);
	store_init(&s, &m);
	assert_int_equal(store_load_json(&s, old, strlen(old), &e), 0);
	assert_int_equal(s.n_users, 0);
	store_free(&s);
}

static void test_rejects_bad_users(void **st)
{
	static const char *bad[] = {
	    /* not an array, not objects, unknown member, malformed id */
	    "\"users\":{}",
	    "\"users\":[1]",
	    "\"users\":[{\"id\":\"u-00000001\",\"name\":\"a\",\"created_at\":1,"
	    "\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
	    "\"address_index\":2,\"revoked\":false,\"private_key\":\"x\"}]",
	    "\"users\":[{\"id\":\"c-00000001\",\"name\":\"a\",\"created_at\":1,"
	    "\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
	    "\"address_index\":2,\"revoked\":false}]",
	    /* bad key, address above the high-water mark, empty name */
	    "\"users\":[{\"id\":\"u-00000001\",\"name\":\"a\",\"created_at\":1,"
	    "\"public_key\":\"AAAA\",\"address_index\":2,\"revoked\":false}]",
	    "\"users\":[{\"id\":\"u-00000001\",\"name\":\"a\",\"created_at\":1,"
	    "\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
	    "\"address_index\":3,\"revoked\":false}]",
	    "\"users\":[{\"id\":\"u-00000001\",\"name\":\"\",\"created_at\":1,"
	    "\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
	    "\"address_index\":2,\"revoked\":false}]",
	};
	struct ctl_store s;
	struct cidr m;
	mg_err e = {0};
	char buf[1024];

	(void)st;
	assert_int_equal(cidr_parse("100.96.0.0/11", &m, 0, &e), 0);
	for (size_t i = 0; i < MG_ARRAY_SIZE(bad); i++) {
		snprintf(buf, sizeof(buf),
			 "{\"format\":1,\"mesh_range\":\"100.96.0.0/11\","
			 "\"next_address_index\":3,\"networks\":[],\"connectors\":[],%s}",
			 bad[i]);
		store_init(&s, &m);
		assert_int_not_equal(store_load_json(&s, buf, strlen(buf), &e), 0);
		store_free(&s);
	}
}

static void test_addresses_never_reused(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_store b;
	struct ctl_user *u1, *u2;
	struct ctl_connector *c;
	mg_err e = {0};
	char *t;

	(void)st;
	setup_ctx(&ctx);
	assert_int_equal(store_add_net(&ctx.store, net("n-00000001", "{\"name\":\"A\"}"), &e), 0);
	u1 = user(&ctx.store, "u-00000001", 1);
	c = conn(&ctx.store, "c-00000001", "n-00000001", 2);
	u1->revoked = true;
	u2 = user(&ctx.store, "u-00000002", 3);
	assert_int_equal(u1->addr_index, 2);
	assert_int_equal(c->addr_index, 3);
	assert_int_equal(u2->addr_index, 4); /* not the revoked user's 2 */
	/* the high-water mark survives a reload: the next address is still new */
	t = reload(&b, &ctx.store, 0);
	cJSON_free(t);
	u2 = user(&b, "u-00000003", 4);
	assert_int_equal(u2->addr_index, 5);
	store_free(&b);

	/* a store where a user and a connector share an address is refused */
	ctx.store.users[1]->addr_index = c->addr_index;
	t = reload(&b, &ctx.store, -1);
	assert_non_null(strstr(load_err.msg, "is held by c-00000001"));
	cJSON_free(t);
	store_free(&b);
	/* so is one where two users share one (even a revoked one) */
	ctx.store.users[1]->addr_index = u1->addr_index;
	t = reload(&b, &ctx.store, -1);
	assert_non_null(strstr(load_err.msg, "is held by u-00000001"));
	cJSON_free(t);
	store_free(&b);
	ctx.store.users[1]->addr_index = 4;
	/* and two live holders of one key */
	ctx.store.users[1]->public_key[0] = 2; /* the connector's */
	t = reload(&b, &ctx.store, -1);
	assert_non_null(strstr(load_err.msg, "public key is held by c-00000001"));
	cJSON_free(t);
	store_free(&b);
	store_free(&ctx.store);
}

static void test_key_owner_and_ids(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_connector *c;
	struct ctl_user *u;
	uint8_t k[WG_KEY_LEN] = {0};
	char id[CTL_ID_LEN + 1];
	mg_err e = {0};

	(void)st;
	setup_ctx(&ctx);
	assert_int_equal(store_add_net(&ctx.store, net("n-00000001", "{\"name\":\"A\"}"), &e), 0);
	c = conn(&ctx.store, "c-00000001", "n-00000001", 1);
	u = user(&ctx.store, "u-00000001", 2);
	k[0] = 1;
	assert_string_equal(store_key_owner(&ctx.store, k), "c-00000001");
	k[0] = 2;
	assert_string_equal(store_key_owner(&ctx.store, k), "u-00000001");
	u->revoked = true;
	assert_null(store_key_owner(&ctx.store, k));
	c->revoked = true;
	k[0] = 1;
	assert_null(store_key_owner(&ctx.store, k));
	for (int i = 0; i < 50; i++) {
		assert_int_equal(store_new_id(&ctx.store, 'u', id, &e), 0);
		assert_int_equal(strlen(id), CTL_ID_LEN);
		assert_memory_equal(id, "u-", 2);
		assert_null(store_find_user(&ctx.store, id));
	}
	store_free(&ctx.store);
}

static void test_hub_peers(void **st)
{
	struct ctl_ctx ctx;
	struct hub_peer *v;
	size_t n;
	mg_err e = {0};
	char b[CIDR_STRLEN];

	(void)st;
	setup_ctx(&ctx);
	assert_int_equal(
	    store_add_net(&ctx.store,
			  net("n-00000001", "{\"name\":\"A\",\"subnets\":[\"198.51.100.0/24\"]}"),
			  &e),
	    0);
	conn(&ctx.store, "c-00000001", "n-00000001", 1);
	user(&ctx.store, "u-00000001", 2);
	user(&ctx.store, "u-00000002", 3)->revoked = true;
	user(&ctx.store, "u-00000003", 4);
	user(&ctx.store, "u-00000004", 5)->disabled = true;
	assert_int_equal(hub_desired_peers(&ctx, &v, &n, &e), 0);
	assert_int_equal(n, 4);
	/* a disabled user stays a peer, cut: no allowed IPs */
	assert_string_equal(v[3].owner_id, "u-00000004");
	assert_true(v[3].cut);
	assert_int_equal(v[3].n_allowed, 0);
	assert_false(v[0].cut);
	assert_string_equal(v[0].owner_id, "c-00000001");
	assert_int_equal(v[0].n_allowed, 2);
	assert_string_equal(v[1].owner_id, "u-00000001");
	assert_int_equal(v[1].public_key[0], 2);
	assert_int_equal(v[1].n_allowed, 1);
	assert_string_equal(cidr_format(&v[1].allowed[0], b), "100.96.0.3/32");
	assert_string_equal(v[2].owner_id, "u-00000003");
	assert_string_equal(cidr_format(&v[2].allowed[0], b), "100.96.0.5/32");
	hub_peers_free(v, n);
	store_free(&ctx.store);
}

static void test_config_text(void **st)
{
	struct ctl_ctx ctx;
	struct ctl_user *u;
	char hub[WG_KEY_B64_LEN], want[1024], *txt;
	mg_err e = {0};

	(void)st;
	setup_ctx(&ctx);
	wgkey_to_base64(ctx.hub_pub, hub);
	/* no networks: the mesh range only */
	u = user(&ctx.store, "u-00000001", 1);
	txt = user_config_text(&ctx, u, NULL, &e);
	assert_non_null(txt);
	snprintf(want, sizeof(want),
		 "[Interface]\n"
		 "PrivateKey = <your private key>\n"
		 "Address = 100.96.0.2/32\n"
		 "MTU = 1420\n"
		 "\n"
		 "[Peer]\n"
		 "PublicKey = %s\n"
		 "Endpoint = 192.0.2.1:51820\n"
		 "AllowedIPs = 100.96.0.0/11\n"
		 "PersistentKeepalive = 25\n",
		 hub);
	assert_string_equal(txt, want);
	free(txt);

	/* every network's subnets, sorted across networks, after the mesh range */
	assert_int_equal(
	    store_add_net(&ctx.store,
			  net("n-00000001", "{\"name\":\"A\",\"subnets\":"
					    "[\"203.0.113.0/24\",\"198.51.100.0/25\"]}"),
			  &e),
	    0);
	assert_int_equal(
	    store_add_net(&ctx.store,
			  net("n-00000002", "{\"name\":\"B\",\"subnets\":"
					    "[\"198.51.100.128/25\",\"192.0.2.0/24\"]}"),
			  &e),
	    0);
	assert_int_equal(store_add_net(&ctx.store, net("n-00000003", "{\"name\":\"C\"}"), &e), 0);
	ctx.store.next_addr = 300;
	u = user(&ctx.store, "u-00000002", 2);
	txt = user_config_text(&ctx, u, "KEY+/=", &e);
	assert_non_null(txt);
	snprintf(want, sizeof(want),
		 "[Interface]\n"
		 "PrivateKey = KEY+/=\n"
		 "Address = 100.96.1.44/32\n"
		 "MTU = 1420\n"
		 "\n"
		 "[Peer]\n"
		 "PublicKey = %s\n"
		 "Endpoint = 192.0.2.1:51820\n"
		 "AllowedIPs = 100.96.0.0/11, 192.0.2.0/24, 198.51.100.0/25, "
		 "198.51.100.128/25, 203.0.113.0/24\n"
		 "PersistentKeepalive = 25\n",
		 hub);
	assert_string_equal(txt, want);
	free(txt);
	store_free(&ctx.store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_old_store_loads),
	    cmocka_unit_test(test_rejects_bad_users), cmocka_unit_test(test_addresses_never_reused),
	    cmocka_unit_test(test_key_owner_and_ids), cmocka_unit_test(test_hub_peers),
	    cmocka_unit_test(test_config_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
