/* SPDX-License-Identifier: MIT */
/* lib/rtnl_rule: the RTM_NEWRULE / RTM_DELRULE message of "iif IF lookup TABLE". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "rtnl_rule.h"

struct attrs {
	const struct nlattr *tb[FRA_MAX + 1];
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *t = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type <= FRA_MAX) {
		assert_null(t->tb[type]); /* every attribute once */
		t->tb[type] = a;
	}
	return MNL_CB_OK;
}

static void check(uint16_t type, uint16_t flags, int family, uint32_t table)
{
	char buf[RTNL_MSG_MAX];
	struct rtnl_rule rl = {.family = (uint8_t)family,
			       .iif = "mgh1234",
			       .table = table,
			       .prio = 1109,
			       .protocol = 110};
	struct nlmsghdr *nlh = rtnl_build_rule(buf, type, flags, 7, &rl);
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct attrs t = {0};

	assert_int_equal(nlh->nlmsg_type, type);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | flags);
	assert_int_equal(nlh->nlmsg_seq, 7);
	assert_true(nlh->nlmsg_len <= RTNL_MSG_MAX);
	assert_int_equal(frh->family, family);
	assert_int_equal(frh->action, FR_ACT_TO_TBL);
	assert_int_equal(frh->table, table < 256 ? table : RT_TABLE_UNSPEC);
	assert_int_equal(frh->src_len, 0); /* from all */
	assert_int_equal(frh->dst_len, 0);
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*frh), attr_cb, &t), MNL_CB_OK);
	assert_non_null(t.tb[FRA_TABLE]);
	assert_int_equal(mnl_attr_get_u32(t.tb[FRA_TABLE]), table);
	assert_non_null(t.tb[FRA_PRIORITY]);
	assert_int_equal(mnl_attr_get_u32(t.tb[FRA_PRIORITY]), 1109);
	assert_non_null(t.tb[FRA_IFNAME]);
	assert_string_equal(mnl_attr_get_str(t.tb[FRA_IFNAME]), "mgh1234");
	assert_non_null(t.tb[FRA_PROTOCOL]);
	assert_int_equal(mnl_attr_get_u8(t.tb[FRA_PROTOCOL]), 110);
	assert_null(t.tb[FRA_SRC]);
	assert_null(t.tb[FRA_DST]);
	assert_null(t.tb[FRA_FWMARK]);
}

static void test_build(void **st)
{
	(void)st;
	check(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, AF_INET, 1109);
	check(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, AF_INET6, 1109);
	check(RTM_DELRULE, 0, AF_INET, 1109);
	check(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, AF_INET, 200); /* fits the 8-bit field */
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_build)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
