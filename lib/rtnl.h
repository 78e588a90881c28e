/* SPDX-License-Identifier: MIT */
/*
 * rtnetlink through libmnl: links, addresses, routes tagged with our own
 * rtm_protocol, and a monitor socket for the caller's event loop.
 *
 * Ownership rule: every route meshgate installs carries rtm_protocol
 * RTPROT_MESHGATE, and meshgate only ever deletes routes carrying it.
 */
#ifndef MG_RTNL_H
#define MG_RTNL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

#include "cidr.h"
#include "err.h"
#include "nl.h"

/*
 * Our rtm_protocol: 109 (0x6d, 'm'). The kernel gives no meaning to values
 * above RTPROT_STATIC; 109 is inside 100..185 and absent from Debian's
 * /etc/iproute2/rt_protos (taken there: 0-4, 8-16, 18, 42, 99, 186-189, 192).
 * The installer may ship "/etc/iproute2/rt_protos.d/meshgate.conf" with
 * "109 meshgate" so that `ip route show proto meshgate` works.
 */
#define RTPROT_MESHGATE 109

/* Returned (instead of -1) by rtnl_link_create when the kernel lacks the link kind. */
#define RTNL_ENOTSUPP (-2)
/* Returned (instead of -1) by rtnl_link_index when no such link exists. */
#define RTNL_ENODEV (-2)

/* Request/dump socket. Not thread-safe; one per thread. */
struct rtnl {
	struct nl_sock s; /* requests and their ACKs (lib/nl.h) */
};

/* A device route: dst on oif, in table, with metric. */
struct rtnl_route {
	struct cidr dst;
	uint32_t oif;
	uint32_t table;   /* 0 means RT_TABLE_MAIN */
	uint32_t metric;  /* 0 means the kernel default (IPv6: 1024) */
	uint8_t protocol; /* filled by dumps */
	int err;          /* filled by rtnl_routes_apply: 0 or a positive errno */
};

/* One interface address; addr keeps the host bits (100.96.0.5/11). */
struct rtnl_addr {
	struct cidr addr;
	uint32_t ifindex;
	uint32_t flags;          /* IFA_F_* */
	uint8_t scope;           /* RT_SCOPE_* */
	char label[IF_NAMESIZE]; /* IFA_LABEL (IPv4 only), else empty */
};

int rtnl_open(struct rtnl *r, mg_err *e);
void rtnl_close(struct rtnl *r);

/* 0 and *ifindex set; RTNL_ENODEV when absent; -1 on other errors. */
int rtnl_link_index(struct rtnl *r, const char *name, uint32_t *ifindex, mg_err *e);
/* RTM_NEWLINK with IFLA_INFO_KIND=kind; RTNL_ENOTSUPP on EOPNOTSUPP (no such module). */
int rtnl_link_create(struct rtnl *r, const char *name, const char *kind, mg_err *e);
int rtnl_link_delete(struct rtnl *r, uint32_t ifindex, mg_err *e);
/* Set up/down and, when mtu != 0, the MTU. */
int rtnl_link_set(struct rtnl *r, uint32_t ifindex, bool up, uint32_t mtu, mg_err *e);

/* Add or replace an address; ifa_flags e.g. IFA_F_NOPREFIXROUTE (sent in IFA_FLAGS). */
int rtnl_addr_add(struct rtnl *r, uint32_t ifindex, const struct cidr *addr, uint32_t ifa_flags,
		  mg_err *e);
/* Delete an address; an address already gone is success. */
int rtnl_addr_del(struct rtnl *r, uint32_t ifindex, const struct cidr *addr, mg_err *e);
/* All IPv4 and IPv6 addresses of all interfaces (family AF_UNSPEC) or one family. */
int rtnl_addr_list(struct rtnl *r, int family, struct rtnl_addr **out, size_t *n, mg_err *e);

/*
 * IPv4+IPv6 unicast routes with rtm_protocol == proto, in `table` (0 = every table).
 * *out is malloc'ed (free()).
 */
int rtnl_route_dump(struct rtnl *r, uint8_t proto, uint32_t table, struct rtnl_route **out,
		    size_t *n, mg_err *e);

/*
 * Add (create|replace) `add` and delete `del`, many messages per sendto(), one ACK
 * each. Each route's err is set; ENOENT/ESRCH on delete count as success.
 * Returns 0 when all succeeded, -1 otherwise (e names the first failure;
 * *nfailed, if given, counts them).
 */
int rtnl_routes_apply(struct rtnl *r, struct rtnl_route *add, size_t nadd, struct rtnl_route *del,
		      size_t ndel, uint8_t proto, size_t *nfailed, mg_err *e);

/*
 * Pure diff. desired: routes we want; current: routes of our protocol (from
 * rtnl_route_dump). Key = (family, dst, table, metric) with table 0 = main and
 * IPv6 metric 0 = 1024. Output: routes to add (missing, or present on a wrong
 * oif: replaced) and routes to delete (ours but no longer desired). Arrays
 * are malloc'ed; free() them.
 */
int rtnl_route_diff(const struct rtnl_route *desired, size_t nd, const struct rtnl_route *current,
		    size_t nc, struct rtnl_route **add, size_t *nadd, struct rtnl_route **del,
		    size_t *ndel, mg_err *e);

/*
 * Make the routes of protocol `proto` in `table` exactly `want`: dump, diff, apply only
 * the difference. *nadd / *ndel (either may be NULL) count what changed. 0 or -1.
 */
int rtnl_routes_sync(struct rtnl *r, uint8_t proto, uint32_t table, const struct rtnl_route *want,
		     size_t nw, size_t *nadd, size_t *ndel, mg_err *e);

/* Message builders (no socket; buf must hold RTNL_MSG_MAX bytes). */
#define RTNL_MSG_MAX 512
struct nlmsghdr *rtnl_build_route(void *buf, uint16_t type, uint16_t flags, uint32_t seq,
				  const struct rtnl_route *rt, uint8_t proto);
struct nlmsghdr *rtnl_build_addr(void *buf, uint16_t type, uint16_t flags, uint32_t seq,
				 uint32_t ifindex, const struct cidr *addr, uint32_t ifa_flags);
struct nlmsghdr *rtnl_build_link_create(void *buf, uint32_t seq, const char *name,
					const char *kind);
struct nlmsghdr *rtnl_build_link_set(void *buf, uint32_t seq, uint32_t ifindex, bool up,
				     uint32_t mtu);

/* ---- monitor ---- */

enum rtnl_event_type {
	RTNL_EV_LINK_NEW,
	RTNL_EV_LINK_DEL,
	RTNL_EV_ROUTE_NEW,
	RTNL_EV_ROUTE_DEL,
	RTNL_EV_ADDR_NEW,
	RTNL_EV_ADDR_DEL,
	RTNL_EV_OVERFLOW, /* the kernel dropped events (ENOBUFS): resynchronise everything */
};

struct rtnl_event {
	enum rtnl_event_type type;
	uint32_t ifindex;         /* link: the link; route: RTA_OIF; addr: the interface */
	char ifname[IF_NAMESIZE]; /* link events */
	bool up;                  /* link events: IFF_UP */
	struct cidr prefix;       /* route: dst; addr: address with host bits */
	uint8_t protocol;         /* route events */
	uint32_t table;           /* route events */
};

typedef void (*rtnl_event_cb)(const struct rtnl_event *ev, void *arg);

struct rtnl_mon {
	struct mnl_socket *nl;
	char *buf;
	size_t buflen;
};

/* Subscribe to link, IPv4/IPv6 route and IPv4/IPv6 address groups; non-blocking. */
int rtnl_mon_open(struct rtnl_mon *m, mg_err *e);
int rtnl_mon_fd(const struct rtnl_mon *m);
/* Drain pending messages, calling cb per event; returns events seen, or -1. */
int rtnl_mon_read(struct rtnl_mon *m, rtnl_event_cb cb, void *arg, mg_err *e);
/* Parse one notification into ev; 1 if it is an event, 0 if ignored, -1 if malformed. */
int rtnl_parse_event(const struct nlmsghdr *nlh, struct rtnl_event *ev);
void rtnl_mon_close(struct rtnl_mon *m);

#endif
