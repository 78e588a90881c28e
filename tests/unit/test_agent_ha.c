/* SPDX-License-Identifier: MIT */
/* agent/daemon/ha.c: the role from the config, the lease by this host's clock, fencing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/daemon/ha.h"

static struct mg_config cfg(bool present, bool active, int64_t epoch)
{
	struct mg_config c;

	memset(&c, 0, sizeof(c));
	c.ha.present = present;
	c.ha.active = active;
	c.ha.epoch = epoch;
	c.ha.lease_ms = 3000;
	return c;
}

static void test_lease_and_fencing(void **st)
{
	struct agent_ha h = {0};
	struct mg_config c = cfg(false, false, 0);
	mg_err e = {""};
	(void)st;

	/* no HA: always allowed, no deadline */
	assert_false(ha_take(&h, &c));
	assert_true(ha_may_write(&h, 1000));
	assert_int_equal(ha_write_until(&h), UINT64_MAX);
	assert_int_equal(ha_poll_wait_s(&h, 25), 25);

	/* active, epoch 3: nothing before the first answered poll */
	c = cfg(true, true, 3);
	assert_false(ha_take(&h, &c)); /* still active: no role change, but a new lease */
	assert_false(ha_may_write(&h, 1000));
	assert_int_equal(ha_poll_wait_s(&h, 25), 1);
	/* a poll sent at 1000 answered at 1100: lease until 1000 + 3000 - 600 */
	assert_true(ha_renewed(&h, 1000, 1100));
	assert_int_equal(ha_write_until(&h), 3400);
	assert_true(ha_may_write(&h, 3399));
	assert_false(ha_may_write(&h, 3400));
	assert_false(ha_expired(&h, 3399));
	assert_true(ha_expired(&h, 3400));
	assert_false(ha_expired(&h, 3500)); /* said once */
	/* an answer to a poll sent long ago (a resumed process) does not renew */
	assert_false(ha_renewed(&h, 1100, 5000));
	assert_false(ha_may_write(&h, 5000));
	/* a fresh one does */
	assert_true(ha_renewed(&h, 5000, 5010));
	assert_true(ha_may_write(&h, 5010));

	/* a newer epoch as standby: fenced at once, for good */
	c = cfg(true, false, 4);
	assert_int_equal(ha_check(&h, &c, &e), 0);
	assert_true(ha_take(&h, &c));
	assert_false(ha_may_write(&h, 5010));
	assert_int_equal(ha_write_until(&h), 0);
	assert_false(ha_renewed(&h, 6000, 6010));
	assert_false(ha_may_write(&h, 6010));

	/* an older epoch is refused */
	c = cfg(true, true, 3);
	assert_int_equal(ha_check(&h, &c, &e), -1);
	assert_non_null(strstr(e.msg, "older"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lease_and_fencing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
