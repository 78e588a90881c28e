/* SPDX-License-Identifier: MIT */
/* lib/rtnl: message builders (parsed back with libmnl), the route diff, event parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "nl.h"
#include "rtnl.h"

#define MAXATTR 64

static int tb_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t t = mnl_attr_get_type(a);
	assert_true(t < MAXATTR);
	assert_null(tb[t]); /* no attribute twice */
	tb[t] = a;
	return MNL_CB_OK;
}

static struct cidr C(const char *s) {
	struct cidr c;
	assert_int_equal(cidr_parse(s, &c, CIDR_ALLOW_HOST_BITS, NULL), 0);
	return c;
}

static struct rtnl_route
R(const char *dst, uint32_t oif, uint32_t table, uint32_t metric) {
	struct rtnl_route r = {.dst = C(dst), .oif = oif, .table = table, .metric = metric};
	return r;
}

static void
test_build_route_v4(void **state)
{
	(void)state;
	char buf[RTNL_MSG_MAX];
	struct rtnl_route rt = R("192.0.2.0/24", 7, 0, 0);
	struct nlmsghdr *nlh = rtnl_build_route(
	    buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, 42, &rt, RTPROT_MESHGATE);
	assert_int_equal(nlh->nlmsg_type, RTM_NEWROUTE);
	assert_int_equal(nlh->nlmsg_flags,
			 NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK);
	assert_int_equal(nlh->nlmsg_seq, 42);
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(rtm->rtm_family, AF_INET);
	assert_int_equal(rtm->rtm_dst_len, 24);
	assert_int_equal(rtm->rtm_table, RT_TABLE_MAIN);
	assert_int_equal(rtm->rtm_protocol, RTPROT_MESHGATE);
	assert_int_equal(rtm->rtm_scope, RT_SCOPE_LINK);
	assert_int_equal(rtm->rtm_type, RTN_UNICAST);
	const struct nlattr *tb[MAXATTR] = {0};
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*rtm), tb_cb, tb), MNL_CB_OK);
	assert_non_null(tb[RTA_DST]);
	assert_int_equal(mnl_attr_get_payload_len(tb[RTA_DST]), 4);
	assert_memory_equal(mnl_attr_get_payload(tb[RTA_DST]), "\xc0\x00\x02\x00", 4);
	assert_int_equal(mnl_attr_get_u32(tb[RTA_OIF]), 7);
	assert_int_equal(mnl_attr_get_u32(tb[RTA_TABLE]), RT_TABLE_MAIN);
	assert_null(tb[RTA_PRIORITY]);
	assert_null(tb[RTA_GATEWAY]);
	/* a protocol number outside what Debian's rt_protos already names */
	assert_true(RTPROT_MESHGATE >= 100 && RTPROT_MESHGATE <= 185);
}

static void test_build_route_v6_table_metric_delete(void **state)
{
	(void)state;
	char buf[RTNL_MSG_MAX];
	struct rtnl_route rt = R("2001:db8:1::/48", 3, 1000, 50);
	struct nlmsghdr *nlh = rtnl_build_route(buf, RTM_NEWROUTE, NLM_F_CREATE, 1, &rt, 109);
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(rtm->rtm_family, AF_INET6);
	assert_int_equal(rtm->rtm_dst_len, 48);
	assert_int_equal(rtm->rtm_table, RT_TABLE_UNSPEC); /* > 255: only in RTA_TABLE */
	const struct nlattr *tb[MAXATTR] = {0};
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*rtm), tb_cb, tb), MNL_CB_OK);
	assert_int_equal(mnl_attr_get_u32(tb[RTA_TABLE]), 1000);
	assert_int_equal(mnl_attr_get_u32(tb[RTA_PRIORITY]), 50);
	assert_int_equal(mnl_attr_get_payload_len(tb[RTA_DST]), 16);

	nlh = rtnl_build_route(buf, RTM_DELROUTE, NLM_F_ACK, 2, &rt, 109);
	rtm = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(nlh->nlmsg_type, RTM_DELROUTE);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_int_equal(rtm->rtm_scope, RT_SCOPE_NOWHERE);
	assert_int_equal(rtm->rtm_protocol, 109); /* the kernel deletes only ours */
}

static void test_build_addr_noprefixroute(void **state)
{
	(void)state;
	char buf[RTNL_MSG_MAX];
	struct cidr a = C("100.96.0.5/11");
	struct nlmsghdr *nlh =
	    rtnl_build_addr(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, 9, 4, &a,
			    IFA_F_NOPREFIXROUTE);
	assert_int_equal(nlh->nlmsg_type, RTM_NEWADDR);
	assert_int_equal(nlh->nlmsg_flags,
			 NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ifa->ifa_family, AF_INET);
	assert_int_equal(ifa->ifa_prefixlen, 11);
	assert_int_equal(ifa->ifa_index, 4);
	assert_int_equal(ifa->ifa_flags, 0); /* NOPREFIXROUTE (0x200) only fits IFA_FLAGS */
	const struct nlattr *tb[MAXATTR] = {0};
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*ifa), tb_cb, tb), MNL_CB_OK);
	assert_memory_equal(mnl_attr_get_payload(tb[IFA_LOCAL]), "\x64\x60\x00\x05", 4);
	assert_memory_equal(mnl_attr_get_payload(tb[IFA_ADDRESS]), "\x64\x60\x00\x05", 4);
	assert_int_equal(mnl_attr_get_u32(tb[IFA_FLAGS]), IFA_F_NOPREFIXROUTE);

	struct cidr b = C("fd00::1/64");
	nlh = rtnl_build_addr(buf, RTM_NEWADDR, NLM_F_CREATE, 1, 4, &b, 0);
	ifa = mnl_nlmsg_get_payload(nlh);
	memset(tb, 0, sizeof(tb));
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*ifa), tb_cb, tb), MNL_CB_OK);
	assert_int_equal(ifa->ifa_family, AF_INET6);
	assert_int_equal(mnl_attr_get_payload_len(tb[IFA_LOCAL]), 16);
	assert_null(tb[IFA_FLAGS]);
}

static void test_build_link(void **state)
{
	(void)state;
	char buf[RTNL_MSG_MAX];
	struct nlmsghdr *nlh = rtnl_build_link_create(buf, 5, "mg0", "wireguard");
	assert_int_equal(nlh->nlmsg_type, RTM_NEWLINK);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	const struct nlattr *tb[MAXATTR] = {0};
	assert_int_equal(mnl_attr_parse(nlh, sizeof(struct ifinfomsg), tb_cb, tb), MNL_CB_OK);
	assert_string_equal(mnl_attr_get_str(tb[IFLA_IFNAME]), "mg0");
	assert_non_null(tb[IFLA_LINKINFO]);
	const struct nlattr *li[MAXATTR] = {0};
	assert_int_equal(mnl_attr_parse_nested(tb[IFLA_LINKINFO], tb_cb, li), MNL_CB_OK);
	assert_string_equal(mnl_attr_get_str(li[IFLA_INFO_KIND]), "wireguard");

	nlh = rtnl_build_link_set(buf, 6, 12, true, 1420);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ifi->ifi_index, 12);
	assert_int_equal(ifi->ifi_change, IFF_UP);
	assert_int_equal(ifi->ifi_flags, IFF_UP);
	memset(tb, 0, sizeof(tb));
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*ifi), tb_cb, tb), MNL_CB_OK);
	assert_int_equal(mnl_attr_get_u32(tb[IFLA_MTU]), 1420);

	nlh = rtnl_build_link_set(buf, 7, 12, false, 0);
	ifi = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ifi->ifi_change, IFF_UP);
	assert_int_equal(ifi->ifi_flags, 0);
	memset(tb, 0, sizeof(tb));
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*ifi), tb_cb, tb), MNL_CB_OK);
	assert_null(tb[IFLA_MTU]);
}

static bool has_route(const struct rtnl_route *v, size_t n, const char *dst, uint32_t oif)
{
	struct cidr c = C(dst);
	for (size_t i = 0; i < n; i++)
		if (cidr_equal(&v[i].dst, &c) && v[i].oif == oif)
			return true;
	return false;
}

static void test_diff(void **state)
{
	(void)state;
	struct rtnl_route want[] = {
	    R("100.96.0.0/11", 5, 0, 0),   /* present: no-op */
	    R("192.0.2.0/24", 5, 0, 0),    /* missing: add */
	    R("203.0.113.0/24", 5, 0, 0),  /* present on oif 9: replace */
	    R("fd00:1::/64", 5, 0, 0),     /* present as metric 1024: no-op */
	    R("fd00:2::/64", 5, 0, 0),     /* missing v6: add */
	    R("192.0.2.0/24", 5, 0, 0),    /* duplicate desired entry: once */
	    R("198.18.0.0/15", 5, 100, 0), /* same prefix, other table: add */
	};
	struct rtnl_route cur[] = {
	    R("100.96.0.0/11", 5, RT_TABLE_MAIN, 0),
	    R("203.0.113.0/24", 9, RT_TABLE_MAIN, 0),
	    R("fd00:1::/64", 5, RT_TABLE_MAIN, 1024),
	    R("fd00:3::/64", 5, RT_TABLE_MAIN, 1024), /* stale v6: delete */
	    R("10.9.0.0/16", 5, RT_TABLE_MAIN, 0),    /* stale v4: delete */
	    R("198.18.0.0/15", 5, RT_TABLE_MAIN, 0),  /* same prefix in main: delete */
	};
	struct rtnl_route *add, *del;
	size_t na, nd;
	mg_err e;
	assert_int_equal(rtnl_route_diff(want, MG_ARRAY_SIZE(want), cur, MG_ARRAY_SIZE(cur), &add,
					 &na, &del, &nd, &e),
			 0);
	assert_int_equal(na, 4);
	assert_true(has_route(add, na, "192.0.2.0/24", 5));
	assert_true(has_route(add, na, "203.0.113.0/24", 5));
	assert_true(has_route(add, na, "fd00:2::/64", 5));
	assert_true(has_route(add, na, "198.18.0.0/15", 5));
	assert_int_equal(nd, 3);
	assert_true(has_route(del, nd, "fd00:3::/64", 5));
	assert_true(has_route(del, nd, "10.9.0.0/16", 5));
	assert_true(has_route(del, nd, "198.18.0.0/15", 5));
	for (size_t i = 0; i < nd; i++)
		if (del[i].dst.family == AF_INET && del[i].dst.len == 15)
			assert_int_equal(del[i].table, RT_TABLE_MAIN);
	free(add);
	free(del);

	/* identical sets: nothing to do */
	struct rtnl_route same[] = {R("100.96.0.0/11", 5, 0, 0), R("fd00:1::/64", 5, 0, 0)};
	struct rtnl_route same_cur[] = {R("fd00:1::/64", 5, 254, 1024),
					R("100.96.0.0/11", 5, 254, 0)};
	assert_int_equal(rtnl_route_diff(same, 2, same_cur, 2, &add, &na, &del, &nd, &e), 0);
	assert_int_equal(na, 0);
	assert_int_equal(nd, 0);
	free(add);
	free(del);

	/* empty desired: delete everything of ours; empty current: add everything */
	assert_int_equal(rtnl_route_diff(NULL, 0, same_cur, 2, &add, &na, &del, &nd, &e), 0);
	assert_int_equal(na, 0);
	assert_int_equal(nd, 2);
	free(add);
	free(del);
	assert_int_equal(rtnl_route_diff(same, 2, NULL, 0, &add, &na, &del, &nd, &e), 0);
	assert_int_equal(na, 2);
	assert_int_equal(nd, 0);
	free(add);
	free(del);
}

static void test_parse_events(void **state)
{
	(void)state;
	char buf[RTNL_MSG_MAX];
	struct rtnl_route rt = R("192.0.2.0/24", 7, 0, 0);
	struct nlmsghdr *nlh = rtnl_build_route(buf, RTM_NEWROUTE, 0, 1, &rt, RTPROT_MESHGATE);
	struct rtnl_event ev;
	assert_int_equal(rtnl_parse_event(nlh, &ev), 1);
	assert_int_equal(ev.type, RTNL_EV_ROUTE_NEW);
	assert_int_equal(ev.ifindex, 7);
	assert_int_equal(ev.protocol, RTPROT_MESHGATE);
	assert_int_equal(ev.table, RT_TABLE_MAIN);
	struct cidr want = C("192.0.2.0/24");
	assert_true(cidr_equal(&ev.prefix, &want));

	struct cidr a = C("100.96.0.5/11");
	nlh = rtnl_build_addr(buf, RTM_DELADDR, 0, 1, 4, &a, 0);
	assert_int_equal(rtnl_parse_event(nlh, &ev), 1);
	assert_int_equal(ev.type, RTNL_EV_ADDR_DEL);
	assert_int_equal(ev.ifindex, 4);
	assert_true(cidr_equal(&ev.prefix, &a));

	/* a link notification as the kernel sends it */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 3;
	ifi->ifi_flags = IFF_UP | IFF_RUNNING;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
	assert_int_equal(rtnl_parse_event(nlh, &ev), 1);
	assert_int_equal(ev.type, RTNL_EV_LINK_NEW);
	assert_int_equal(ev.ifindex, 3);
	assert_true(ev.up);
	assert_string_equal(ev.ifname, "eth0");

	/* truncated header: malformed; unrelated type: ignored */
	nlh->nlmsg_len = sizeof(struct nlmsghdr) + 2;
	assert_int_equal(rtnl_parse_event(nlh, &ev), -1);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWNEIGH;
	assert_int_equal(rtnl_parse_event(nlh, &ev), 0);
}

/* An NLMSG_ERROR as the kernel sends it, echoing `body` bytes of the request (capped: 0). */
static struct nlmsghdr *put_ack(char *buf, int error, bool capped, size_t body, const char *text)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = (capped ? NLM_F_CAPPED : 0) | (text ? NLM_F_ACK_TLVS : 0);
	struct nlmsgerr *err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err) + body);
	err->error = error;
	err->msg.nlmsg_len = (uint32_t)(sizeof(struct nlmsghdr) + body);
	err->msg.nlmsg_type = RTM_NEWROUTE;
	if (text)
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, text);
	return nlh;
}

/* The shared loop reads the errno and the kernel's extended-ACK text, capped or not. */
static void test_nl_ack_errno(void **state)
{
	(void)state;
	char buf[512];
	const char *text;

	assert_int_equal(nl_ack_errno(put_ack(buf, 0, true, 0, NULL), &text), 0);
	assert_null(text);
	assert_int_equal(nl_ack_errno(put_ack(buf, -EEXIST, true, 0, "Route exists"), &text),
			 EEXIST);
	assert_non_null(text);
	assert_string_equal(text, "Route exists");
	/* uncapped: the whole request is echoed before the TLVs */
	assert_int_equal(nl_ack_errno(put_ack(buf, -EINVAL, false, 12, "Invalid prefix"), &text),
			 EINVAL);
	assert_non_null(text);
	assert_string_equal(text, "Invalid prefix");
	assert_int_equal(nl_ack_errno(put_ack(buf, -ENODEV, true, 0, NULL), &text), ENODEV);
	assert_null(text);
	/* too short to hold a struct nlmsgerr */
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	assert_int_equal(nl_ack_errno(nlh, &text), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_route_v4),
	    cmocka_unit_test(test_nl_ack_errno),
	    cmocka_unit_test(test_build_route_v6_table_metric_delete),
	    cmocka_unit_test(test_build_addr_noprefixroute),
	    cmocka_unit_test(test_build_link),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_parse_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
