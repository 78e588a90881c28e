/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/prom: the text exposition format, escaping, names, values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

static void test_family_and_samples(void **state)
{
	struct mg_buf b = {0};
	(void)state;

	prom_family(&b, "meshgate_x_total", "counter", "Things, counted.\nSecond \\ line.");
	prom_sample(&b, "meshgate_x_total", 3, "kind", "a\"b\\c\nd", "z", "", NULL);
	prom_sample(&b, "meshgate_x_total", 0.5, NULL);
	prom_single(&b, "meshgate_y", "gauge", "Y.", -1);
	prom_sample(&b, "meshgate_y", NAN, NULL);
	prom_sample(&b, "meshgate_y", INFINITY, NULL);
	prom_sample(&b, "meshgate_y", 1e20, NULL);
	assert_false(b.failed);
	assert_string_equal(b.p, "# HELP meshgate_x_total Things, counted.\\nSecond \\\\ line.\n"
				 "# TYPE meshgate_x_total counter\n"
				 "meshgate_x_total{kind=\"a\\\"b\\\\c\\nd\",z=\"\"} 3\n"
				 "meshgate_x_total 0.5\n"
				 "# HELP meshgate_y Y.\n"
				 "# TYPE meshgate_y gauge\n"
				 "meshgate_y -1\n"
				 "meshgate_y NaN\n"
				 "meshgate_y +Inf\n"
				 "meshgate_y 1e+20\n");
	mg_buf_free(&b);
}

static void test_names(void **state)
{
	struct mg_buf b = {0};
	(void)state;

	assert_true(prom_valid_name("a:b_c9"));
	assert_false(prom_valid_name("9a"));
	assert_false(prom_valid_name("a-b"));
	assert_false(prom_valid_name(""));
	assert_true(prom_valid_label("peer"));
	assert_false(prom_valid_label("__reserved"));
	assert_false(prom_valid_label("a:b"));
	prom_sample(&b, "ok", 1, "bad-label", "v", NULL);
	assert_true(b.failed);
	mg_buf_free(&b);
	b = (struct mg_buf){0};
	prom_family(&b, "ok", "histogramish", "x");
	assert_true(b.failed);
	mg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_family_and_samples),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
