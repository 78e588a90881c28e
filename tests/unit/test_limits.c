/* SPDX-License-Identifier: MIT */
/*
 * One set of limits: the controller's and the agent's caps are the table's
 * (lib/mg_limits.h), and docs/LIMITS.md shows the same names and values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "ctl.h"
#include "fsutil.h"
#include "mg_limits.h"

static void test_caps_are_the_table(void **st)
{
	(void)st;
	assert_int_equal(CONFIG_MAX_ROUTES, MG_LIMIT_ROUTES);
	assert_int_equal(CONFIG_MAX_CLOUD, MG_LIMIT_ROUTES);
	assert_int_equal(CONFIG_MAX_ADVERTISE, MG_LIMIT_SUBNETS);
	assert_int_equal(CONFIG_MAX_EXCLUDE, MG_LIMIT_EXCLUDES);
	assert_int_equal(CONFIG_MAX_ACCESS, MG_LIMIT_ACCESS);
	assert_int_equal(CONFIG_MAX_PORTS, MG_LIMIT_PORTS);
	assert_int_equal(CONFIG_MAX_BYTES, MG_LIMIT_CONFIG_BYTES);
	assert_int_equal(CTL_MAX_SUBNETS, MG_LIMIT_SUBNETS);
	assert_int_equal(CTL_MAX_EXCLUDE, MG_LIMIT_EXCLUDES);
	assert_int_equal(CTL_MAX_NETWORKS, MG_LIMIT_NETWORKS);
	assert_int_equal(CTL_MAX_CONNECTORS, MG_LIMIT_CONNECTORS);
	assert_int_equal(CTL_MAX_USERS, MG_LIMIT_USERS);
	assert_int_equal(CTL_BODY_MAX, MG_LIMIT_BODY_BYTES);
	/* what issue 16 asks of one connector */
	assert_true(MG_LIMIT_ROUTES >= 10000);
	assert_true(MG_LIMIT_EXCLUDES >= 10000);
	/* a connector's routes (mesh range + all subnets) never pass the routes limit */
	assert_true(MG_LIMIT_SUBNETS + 1 <= MG_LIMIT_ROUTES);
}

static void test_doc_matches_table(void **st)
{
	char *doc;
	size_t len;
	mg_err e = {""};

	(void)st;
	if (fs_read_bounded(MG_TESTDATA_DIR "/../../docs/LIMITS.md", 1 << 20, &doc, &len, &e) < 0)
		fail_msg("%s", e.msg);
	for (size_t i = 0; i < mg_n_limits; i++) {
		char row[128];
		snprintf(row, sizeof(row), "\n| %s | %zu |", mg_limits[i].name, mg_limits[i].value);
		if (!strstr(doc, row))
			fail_msg("docs/LIMITS.md has no row \"%s\"", row + 1);
	}
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_caps_are_the_table),
	    cmocka_unit_test(test_doc_matches_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
