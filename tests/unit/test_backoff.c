/* SPDX-License-Identifier: MIT */
/* The agent's retry delays: a down controller is retried within 2 s whatever the number
 * of failures; other failures back off to the configured cap; both jittered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

static void test_down_capped(void **state)
{
	(void)state;
	/* the first: [125, 250] ms; then doubling; never above the cap */
	assert_int_equal(backoff_delay_ms(1, true, 60, 0), 125);
	assert_int_equal(backoff_delay_ms(1, true, 60, 125), 250);
	assert_int_equal(backoff_delay_ms(2, true, 60, 0), 250);
	for (unsigned f = 1; f < 200; f++)
		for (uint32_t r = 0; r < 4000; r += 37) {
			uint64_t d = backoff_delay_ms(f, true, 60, r);
			assert_true(d <= BACKOFF_DOWN_CAP_MS);
			assert_true(d >= 125);
		}
	assert_int_equal(backoff_delay_ms(50, true, 60, 0), BACKOFF_DOWN_CAP_MS / 2);
	assert_int_equal(backoff_delay_ms(50, true, 60, UINT32_MAX), 1000 + UINT32_MAX % 1001);
}

static void test_error_grows_to_max(void **state)
{
	(void)state;
	assert_int_equal(backoff_delay_ms(1, false, 60, 0), 500);
	assert_int_equal(backoff_delay_ms(1, false, 60, 500), 1000);
	assert_int_equal(backoff_delay_ms(3, false, 60, 0), 2000);
	assert_int_equal(backoff_delay_ms(30, false, 60, 0), 30000);
	assert_int_equal(backoff_delay_ms(30, false, 60, 30000), 60000);
	assert_int_equal(backoff_delay_ms(30, false, 5, 0), 2500);
}

static void test_jitter_spreads(void **state)
{
	/* a fleet failing together spreads over the whole window [base/2, base] */
	unsigned seen_low = 0, seen_high = 0;

	(void)state;
	for (uint32_t r = 0; r < 2000; r++) {
		uint64_t d = backoff_delay_ms(10, true, 60, r * 2654435761u);
		seen_low += d < 1250;
		seen_high += d > 1750;
	}
	assert_true(seen_low > 300);
	assert_true(seen_high > 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_down_capped),
	    cmocka_unit_test(test_error_grows_to_max),
	    cmocka_unit_test(test_jitter_spreads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
