/* SPDX-License-Identifier: MIT */
#include "rtnl_rule.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

struct nlmsghdr *rtnl_build_rule(void *buf, uint16_t type, uint16_t flags, uint32_t seq,
				 const struct rtnl_rule *rl)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = seq;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = rl->family;
	frh->action = FR_ACT_TO_TBL;
	/* the table goes in FRA_TABLE (32 bits); the 8-bit field only when it fits */
	frh->table = rl->table < 256 ? (uint8_t)rl->table : RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_TABLE, rl->table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, rl->prio);
	mnl_attr_put_strz(nlh, FRA_IFNAME, rl->iif);
	if (rl->protocol)
		mnl_attr_put_u8(nlh, FRA_PROTOCOL, rl->protocol);
	return nlh;
}

static int rule_talk(struct rtnl *r, uint16_t type, uint16_t flags, const struct rtnl_rule *rl,
		     mg_err *e)
{
	char buf[RTNL_MSG_MAX], xa[160];
	struct nlmsghdr *nlh = rtnl_build_rule(buf, type, flags, nl_seq(&r->s), rl);

	if (nl_talk(&r->s, nlh, NULL, NULL, xa, sizeof(xa)) == 0)
		return 0;
	if ((type == RTM_NEWRULE && errno == EEXIST) ||
	    (type == RTM_DELRULE && (errno == ENOENT || errno == ESRCH)))
		return 0;
	return mg_err_set(e, "%s rule \"%s from all iif %s lookup %u\" (priority %u): %s%s",
			  type == RTM_NEWRULE ? "add" : "delete",
			  rl->family == AF_INET6 ? "ipv6" : "ipv4", rl->iif, rl->table, rl->prio,
			  strerror(errno), xa);
}

int rtnl_rule_add(struct rtnl *r, const struct rtnl_rule *rl, mg_err *e)
{
	/* NLM_F_EXCL: the kernel answers EEXIST for an identical rule instead of adding a
	 * second copy */
	return rule_talk(r, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, rl, e);
}

int rtnl_rule_del(struct rtnl *r, const struct rtnl_rule *rl, mg_err *e)
{
	return rule_talk(r, RTM_DELRULE, 0, rl, e);
}
