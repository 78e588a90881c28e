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

static void mesh(struct cidr *m)
{
	mg_err e = {0};
	assert_int_equal(cidr_parse("100.96.0.0/11", m, 0, &e), 0);
}

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

static void fill(struct ctl_store *s)
{
	struct ctl_connector *c = calloc(1, sizeof(*c));
	mg_err e = {0};

	assert_int_equal(store_add_net(s,
				       net("n-00000001", "{\"name\":\"A\",\"subnets\":"
							 "[\"192.0.2.0/24\"],\"access\":[{\"cidr\":"
							 "\"192.0.2.0/24\",\"mode\":\"ports\","
							 "\"ports\":[\"tcp/22\",\"udp/1-9\"]}]}"),
				       &e),
			 0);
	strcpy(c->id, "c-00000001");
	strcpy(c->name, "one");
	strcpy(c->network_id, "n-00000001");
	c->token_used = true;
	c->enrolled = true;
	c->version = 3;
	assert_int_equal(store_alloc_addr(s, &c->addr_index, &e), 0);
	c->public_key[0] = 9;
	c->status = cJSON_Parse("{\"x\":1}");
	assert_int_equal(store_add_conn(s, c, &e), 0);
}

static void test_round_trip(void **st)
{
	struct ctl_store a, b;
	struct cidr m;
	mg_err e = {0};
	char *t1, *t2;

	(void)st;
	mesh(&m);
	store_init(&a, &m);
	fill(&a);
	t1 = store_to_json(&a, &e);
	assert_non_null(t1);
	store_init(&b, &m);
	assert_int_equal(store_load_json(&b, t1, strlen(t1), &e), 0);
	t2 = store_to_json(&b, &e);
	assert_string_equal(t1, t2);
	assert_int_equal(b.next_addr, 3);
	assert_int_equal(b.conns[0]->version, 3);
	cJSON_free(t1);
	cJSON_free(t2);
	store_free(&a);
	store_free(&b);
}

static void test_rejects_corrupt(void **st)
{
	static const char *bad[] = {
	    "",
	    "{",
	    "[]",
	    "{\"format\":1}",
	    "{\"format\":2,\"mesh_range\":\"100.96.0.0/11\",\"next_address_index\":2,"
	    "\"networks\":[],\"connectors\":[]}",
	    "{\"format\":1,\"mesh_range\":\"10.0.0.0/8\",\"next_address_index\":2,"
	    "\"networks\":[],\"connectors\":[]}",
	    "{\"format\":1,\"mesh_range\":\"100.96.0.0/11\",\"next_address_index\":2,"
	    "\"networks\":[],\"connectors\":[],\"extra\":1}",
	    "{\"format\":1,\"mesh_range\":\"100.96.0.0/11\",\"next_address_index\":2,"
	    "\"networks\":[{\"id\":\"n-00000001\",\"created_at\":1,\"name\":\"a\","
	    "\"subnets\":[\"10.0.0.1/8\"]}],\"connectors\":[]}",
	    "{\"format\":1,\"mesh_range\":\"100.96.0.0/11\",\"next_address_index\":2,"
	    "\"networks\":[{\"id\":\"n-00000001\",\"created_at\":1,\"name\":\"a\","
	    "\"subnets\":[\"10.0.0.0/8\"]},{\"id\":\"n-00000002\",\"created_at\":1,"
	    "\"name\":\"b\",\"subnets\":[\"10.1.0.0/16\"]}],\"connectors\":[]}",
	};
	struct ctl_store s;
	struct cidr m;
	mg_err e = {0};
	char *t;

	(void)st;
	mesh(&m);
	for (size_t i = 0; i < MG_ARRAY_SIZE(bad); i++) {
		store_init(&s, &m);
		assert_int_not_equal(store_load_json(&s, bad[i], strlen(bad[i]), &e), 0);
		store_free(&s);
	}
	/* an address above the high-water mark, and an address held twice */
	store_init(&s, &m);
	fill(&s);
	s.next_addr = 2;
	t = store_to_json(&s, &e);
	store_free(&s);
	store_init(&s, &m);
	assert_int_not_equal(store_load_json(&s, t, strlen(t), &e), 0);
	assert_non_null(strstr(e.msg, "high-water"));
	cJSON_free(t);
	store_free(&s);
}

static void test_addresses_never_reused(void **st)
{
	struct ctl_store s;
	struct cidr m, a;
	mg_err e = {0};
	char b[CIDR_STRLEN];
	uint64_t i1, i2;

	(void)st;
	assert_int_equal(cidr_parse("100.96.0.0/30", &m, 0, &e), 0);
	store_init(&s, &m);
	assert_int_equal(store_alloc_addr(&s, &i1, &e), 0);
	assert_int_equal(i1, 2);
	store_addr(&s, i1, &a);
	assert_string_equal(cidr_format(&a, b), "100.96.0.2/32");
	/* .3 is the broadcast address: the /30 is full after one connector */
	assert_int_not_equal(store_alloc_addr(&s, &i2, &e), 0);
	store_free(&s);

	assert_int_equal(cidr_parse("100.96.0.0/11", &m, 0, &e), 0);
	store_init(&s, &m);
	s.next_addr = 300;
	assert_int_equal(store_alloc_addr(&s, &i1, &e), 0);
	assert_int_equal(store_alloc_addr(&s, &i2, &e), 0);
	assert_true(i2 > i1);
	store_addr(&s, i1, &a);
	assert_string_equal(cidr_format(&a, b), "100.96.1.44/32");
	store_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_rejects_corrupt),
	    cmocka_unit_test(test_addresses_never_reused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
