/* SPDX-License-Identifier: MIT */
/* The controller mock's host identity (controller-mock/identity.c): header validation,
 * the holder kept in the store, the admin API's view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "identity.h"
#include "jsonu.h"

#define HID "0123456789abcdef0123456789abcdef"

static void test_parse(void **st)
{
	struct ctl_host h;
	mg_err e = {""};
	char name[80];

	(void)st;
	assert_int_equal(ident_parse(NULL, "x", &h, &e), 0); /* no id: not checked */
	assert_int_equal(ident_parse(HID, "web-1", &h, &e), 1);
	assert_string_equal(h.id, HID);
	assert_string_equal(h.name, "web-1");
	assert_int_equal(ident_parse(HID, NULL, &h, &e), 1);
	assert_string_equal(h.name, "unknown");
	assert_int_equal(ident_parse(HID, "", &h, &e), 1);
	assert_string_equal(h.name, "unknown");
	/* the id: exactly 32 lowercase hex digits */
	assert_int_equal(ident_parse("0123456789ABCDEF0123456789abcdef", "x", &h, &e), -1);
	assert_non_null(strstr(e.msg, "Meshgate-Host-Id"));
	assert_int_equal(ident_parse(HID "0", "x", &h, &e), -1);
	assert_int_equal(ident_parse("0123456789abcdef0123456789abcde", "x", &h, &e), -1);
	assert_int_equal(ident_parse("0123456789abcdef0123456789abcdeg", "x", &h, &e), -1);
	assert_int_equal(ident_parse("", "x", &h, &e), -1);
	/* the name: printable ASCII, no blanks, at most CTL_HOSTNAME_MAX */
	assert_int_equal(ident_parse(HID, "a b", &h, &e), -1);
	assert_non_null(strstr(e.msg, "Meshgate-Host-Name"));
	assert_int_equal(ident_parse(HID, "a\x01", &h, &e), -1);
	assert_int_equal(ident_parse(HID, "caf\xc3\xa9", &h, &e), -1);
	memset(name, 'n', sizeof(name));
	name[CTL_HOSTNAME_MAX] = '\0';
	assert_int_equal(ident_parse(HID, name, &h, &e), 1);
	name[CTL_HOSTNAME_MAX] = 'n';
	name[CTL_HOSTNAME_MAX + 1] = '\0';
	assert_int_equal(ident_parse(HID, name, &h, &e), -1);
}

static const char *store_text(const char *host_fields)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"format\":1,\"mesh_range\":\"100.96.0.0/11\",\"next_address_index\":3,"
		 "\"networks\":[{\"id\":\"n-00000001\",\"name\":\"A\",\"created_at\":1,"
		 "\"subnets\":[\"192.0.2.0/24\"]}],"
		 "\"connectors\":[{\"id\":\"c-00000001\",\"name\":\"one\",\"network_id\":"
		 "\"n-00000001\",\"created_at\":1,\"token_sha256\":\"%064d\","
		 "\"token_expires_at\":9,\"token_used\":true,\"disabled\":false,\"revoked\":false,"
		 "\"enrolled\":true,\"secret_sha256\":\"%064d\",\"public_key\":"
		 "\"CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"address_index\":2,"
		 "\"hostname\":\"h\",\"agent_version\":\"v\",\"enrolled_at\":1,\"last_seen\":0,"
		 "\"version\":1,\"config_sha256\":\"%064d\"%s}],\"users\":[]}",
		 0, 0, 0, host_fields);
	return buf;
}

static void test_store_round_trip(void **st)
{
	struct ctl_store a, b;
	struct cidr m;
	mg_err e = {""};
	const char *t;
	char *t1, *t2;

	(void)st;
	assert_int_equal(cidr_parse("100.96.0.0/11", &m, 0, &e), 0);
	store_init(&a, &m);
	t = store_text(",\"host_id\":\"" HID "\",\"host_name\":\"web-1\"");
	assert_int_equal(store_load_json(&a, t, strlen(t), &e), 0);
	assert_string_equal(a.conns[0]->ident.holder.id, HID);
	assert_string_equal(a.conns[0]->ident.holder.name, "web-1");
	assert_true(a.conns[0]->ident.loaded_ms > 0); /* its grace period runs */
	assert_int_equal(a.conns[0]->ident.holder.seen_ms, 0);
	t1 = store_to_json(&a, &e);
	assert_non_null(t1);
	assert_non_null(strstr(t1, HID));
	store_init(&b, &m);
	assert_int_equal(store_load_json(&b, t1, strlen(t1), &e), 0);
	t2 = store_to_json(&b, &e);
	assert_string_equal(t1, t2);
	cJSON_free(t1);
	cJSON_free(t2);
	store_free(&a);
	store_free(&b);

	/* a store from before host ids: no holder, nothing written for it */
	store_init(&a, &m);
	t = store_text("");
	assert_int_equal(store_load_json(&a, t, strlen(t), &e), 0);
	assert_string_equal(a.conns[0]->ident.holder.id, "");
	t1 = store_to_json(&a, &e);
	assert_null(strstr(t1, "host_id"));
	cJSON_free(t1);
	store_free(&a);

	/* malformed: refused with the field named */
	const char *bad[] = {
	    ",\"host_id\":\"" HID "0\"",
	    ",\"host_id\":\"0123456789ABCDEF0123456789ABCDEF\"",
	    ",\"host_id\":\"" HID "\",\"host_name\":\"a b\"",
	    ",\"host_name\":\"web-1\"",
	    ",\"host_id\":7",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		store_init(&a, &m);
		t = store_text(bad[i]);
		e.msg[0] = '\0';
		assert_int_equal(store_load_json(&a, t, strlen(t), &e), -1);
		assert_non_null(strstr(e.msg, "host_"));
		store_free(&a);
	}
}

static void test_api_json(void **st)
{
	struct ctl_connector c;
	cJSON *o = cJSON_CreateObject();
	const cJSON *h, *k;

	(void)st;
	memset(&c, 0, sizeof(c));
	assert_true(ident_to_api_json(o, &c));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "host")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "identity_conflict")));
	cJSON_Delete(o);

	snprintf(c.ident.holder.id, sizeof(c.ident.holder.id), HID);
	snprintf(c.ident.holder.name, sizeof(c.ident.holder.name), "web-1");
	snprintf(c.ident.holder.addr, sizeof(c.ident.holder.addr), "203.0.113.10");
	c.ident.holder.seen_ms = now_mono_ms();
	c.ident.rival = c.ident.holder;
	snprintf(c.ident.rival.name, sizeof(c.ident.rival.name), "clone");
	c.ident.rival_first = now_unix() - 5;
	c.ident.rival_last = now_unix();
	c.ident.rival_count = 3;
	o = cJSON_CreateObject();
	assert_true(ident_to_api_json(o, &c));
	h = cJSON_GetObjectItem(o, "host");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "name")), "web-1");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "address")),
			    "203.0.113.10");
	k = cJSON_GetObjectItem(o, "identity_conflict");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "name")), "clone");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(k, "count")), 3);
	cJSON_Delete(o);

	/* no attempt for IDENT_CONFLICT_S: the flag is gone */
	c.ident.rival_last = now_unix() - IDENT_CONFLICT_S;
	o = cJSON_CreateObject();
	assert_true(ident_to_api_json(o, &c));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "identity_conflict")));
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_store_round_trip),
	    cmocka_unit_test(test_api_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
