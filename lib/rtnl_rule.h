/* SPDX-License-Identifier: MIT */
/*
 * rtnetlink policy routing rules (RTM_NEWRULE / RTM_DELRULE): one rule "packets that
 * came in on interface IIF look up table TABLE", tagged with our protocol.
 */
#ifndef MG_RTNL_RULE_H
#define MG_RTNL_RULE_H

#include <stdbool.h>
#include <stdint.h>

#include "rtnl.h"

struct rtnl_rule {
	uint8_t family;   /* AF_INET or AF_INET6 */
	char iif[16];     /* FRA_IFNAME: the interface packets came in on */
	uint32_t table;   /* FRA_TABLE */
	uint32_t prio;    /* FRA_PRIORITY */
	uint8_t protocol; /* FRA_PROTOCOL (who installed it) */
};

/* Message builder (buf must hold RTNL_MSG_MAX bytes). */
struct nlmsghdr *rtnl_build_rule(void *buf, uint16_t type, uint16_t flags, uint32_t seq,
				 const struct rtnl_rule *rl);
/* Add the rule; one already there (same selector, table and priority) is success. */
int rtnl_rule_add(struct rtnl *r, const struct rtnl_rule *rl, mg_err *e);
/* Delete the rule; one already gone is success. */
int rtnl_rule_del(struct rtnl *r, const struct rtnl_rule *rl, mg_err *e);

#endif
