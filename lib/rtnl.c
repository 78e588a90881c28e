/* SPDX-License-Identifier: MIT */
#include "rtnl.h"
#include "buf.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define RTNL_RCVBUF (32 * 1024)
/* Bytes of route messages per sendto() in rtnl_routes_apply (about 500 routes). */
#define RTNL_APPLY_CHUNK (32 * 1024)
#define RTNL_SOCKBUF     (4 * 1024 * 1024)
#define RTNL_TIMEOUT_S   10 /* bound on waiting for any kernel reply */

int rtnl_open(struct rtnl *r, mg_err *e)
{
	/* kernel-side dump filtering where supported; big buffers for 10,000 routes */
	const struct nl_opts o = {.rcvbuf = RTNL_RCVBUF,
				  .sockbuf = RTNL_SOCKBUF,
				  .timeout_s = RTNL_TIMEOUT_S,
				  .strict_chk = true};
	return nl_open(&r->s, NETLINK_ROUTE, &o, "rtnetlink", e);
}

void rtnl_close(struct rtnl *r)
{
	nl_close(&r->s);
}

static int talk(struct rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, char *extack,
		size_t extack_len)
{
	return nl_talk(&r->s, nlh, cb, data, extack, extack_len);
}

/* ---- builders ---- */

static uint32_t norm_table(uint32_t table)
{
	return table ? table : RT_TABLE_MAIN;
}

struct nlmsghdr *rtnl_build_route(void *buf, uint16_t type, uint16_t flags, uint32_t seq,
				  const struct rtnl_route *rt, uint8_t proto)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	uint32_t table = norm_table(rt->table);
	rtm->rtm_family = rt->dst.family;
	rtm->rtm_dst_len = rt->dst.len;
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = proto;
	/* On delete, NOWHERE matches any scope; protocol still restricts to ours. */
	rtm->rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	mnl_attr_put(nlh, RTA_DST, (size_t)cidr_addr_len(&rt->dst), rt->dst.addr);
	if (rt->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, rt->oif);
	if (rt->metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, rt->metric);
	return nlh;
}

struct nlmsghdr *rtnl_build_addr(void *buf, uint16_t type, uint16_t flags, uint32_t seq,
				 uint32_t ifindex, const struct cidr *addr, uint32_t ifa_flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = addr->family;
	ifa->ifa_prefixlen = addr->len;
	ifa->ifa_flags = (uint8_t)(ifa_flags & 0xff);
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	size_t alen = (size_t)cidr_addr_len(addr);
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr->addr);
	if (ifa_flags)
		mnl_attr_put_u32(nlh, IFA_FLAGS, ifa_flags);
	return nlh;
}

struct nlmsghdr *rtnl_build_link_create(void *buf, uint32_t seq, const char *name, const char *kind)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, li);
	return nlh;
}

struct nlmsghdr *rtnl_build_link_set(void *buf, uint32_t seq, uint32_t ifindex, bool up,
				     uint32_t mtu)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nlh;
}

/* ---- links ---- */

static int link_index_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	*(uint32_t *)data = (uint32_t)ifi->ifi_index;
	return MNL_CB_OK;
}

int rtnl_link_index(struct rtnl *r, const char *name, uint32_t *ifindex, mg_err *e)
{
	char buf[RTNL_MSG_MAX];
	char xa[160];
	if (!name || !*name || strlen(name) >= IF_NAMESIZE)
		return mg_err_set(e, "invalid interface name \"%s\"", name ? name : "");
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK; /* reply, then an ACK that ends talk() */
	nlh->nlmsg_seq = nl_seq(&r->s);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	*ifindex = 0;
	if (talk(r, nlh, link_index_cb, ifindex, xa, sizeof(xa)) < 0) {
		if (errno == ENODEV)
			return RTNL_ENODEV;
		return mg_err_set(e, "look up link %s: %s%s", name, strerror(errno), xa);
	}
	if (!*ifindex)
		return mg_err_set(e, "look up link %s: no reply", name);
	return 0;
}

int rtnl_link_create(struct rtnl *r, const char *name, const char *kind, mg_err *e)
{
	char buf[RTNL_MSG_MAX];
	char xa[160];
	if (!name || !*name || strlen(name) >= IF_NAMESIZE)
		return mg_err_set(e, "invalid interface name \"%s\"", name ? name : "");
	struct nlmsghdr *nlh = rtnl_build_link_create(buf, nl_seq(&r->s), name, kind);
	if (talk(r, nlh, NULL, NULL, xa, sizeof(xa)) < 0) {
		int err = errno;
		mg_err_set(e, "create %s link %s: %s%s", kind, name, strerror(err), xa);
		return err == EOPNOTSUPP ? RTNL_ENOTSUPP : -1;
	}
	return 0;
}

int rtnl_link_delete(struct rtnl *r, uint32_t ifindex, mg_err *e)
{
	char buf[RTNL_MSG_MAX];
	char xa[160];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = nl_seq(&r->s);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if (talk(r, nlh, NULL, NULL, xa, sizeof(xa)) < 0)
		return mg_err_set(e, "delete link #%u: %s%s", ifindex, strerror(errno), xa);
	return 0;
}

int rtnl_link_set(struct rtnl *r, uint32_t ifindex, bool up, uint32_t mtu, mg_err *e)
{
	char buf[RTNL_MSG_MAX];
	char xa[160];
	struct nlmsghdr *nlh = rtnl_build_link_set(buf, nl_seq(&r->s), ifindex, up, mtu);
	if (talk(r, nlh, NULL, NULL, xa, sizeof(xa)) < 0)
		return mg_err_set(e, "set link #%u %s mtu %u: %s%s", ifindex, up ? "up" : "down",
				  mtu, strerror(errno), xa);
	return 0;
}

/* ---- addresses ---- */

int rtnl_addr_add(struct rtnl *r, uint32_t ifindex, const struct cidr *addr, uint32_t ifa_flags,
		  mg_err *e)
{
	char buf[RTNL_MSG_MAX];
	char xa[160];
	char s[CIDR_STRLEN];
	struct nlmsghdr *nlh =
	    rtnl_build_addr(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK,
			    nl_seq(&r->s), ifindex, addr, ifa_flags);
	if (talk(r, nlh, NULL, NULL, xa, sizeof(xa)) < 0)
		return mg_err_set(e, "add address %s to link #%u: %s%s", cidr_format(addr, s),
				  ifindex, strerror(errno), xa);
	return 0;
}

int rtnl_addr_del(struct rtnl *r, uint32_t ifindex, const struct cidr *addr, mg_err *e)
{
	char buf[RTNL_MSG_MAX];
	char xa[160];
	char s[CIDR_STRLEN];
	struct nlmsghdr *nlh =
	    rtnl_build_addr(buf, RTM_DELADDR, NLM_F_ACK, nl_seq(&r->s), ifindex, addr, 0);
	if (talk(r, nlh, NULL, NULL, xa, sizeof(xa)) < 0) {
		if (errno == EADDRNOTAVAIL || errno == ENODEV)
			return 0;
		return mg_err_set(e, "delete address %s from link #%u: %s%s", cidr_format(addr, s),
				  ifindex, strerror(errno), xa);
	}
	return 0;
}

struct vec {
	void *v;
	size_t n, cap, elem;
	bool oom;
};

static void *vec_push(struct vec *v)
{
	if (mg_grow(&v->v, &v->cap, v->n + 1, v->elem, SIZE_MAX / 2, NULL) < 0) {
		v->oom = true;
		return NULL;
	}
	void *slot = (char *)v->v + v->n++ * v->elem;
	memset(slot, 0, v->elem);
	return slot;
}

static int addr_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);
	if (mnl_attr_type_valid(a, IFA_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

/* Parse an RTM_NEWADDR/DELADDR: 1 ok, 0 not IPv4/IPv6, -1 malformed. */
static int parse_addr(const struct nlmsghdr *nlh, struct rtnl_addr *out)
{
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifaddrmsg)))
		return -1;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) < 0)
		return -1;
	const struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a)
		return 0;
	if (mnl_attr_get_payload_len(a) != alen || ifa->ifa_prefixlen > alen * 8)
		return -1;
	memset(out, 0, sizeof(*out));
	out->addr.family = ifa->ifa_family;
	out->addr.len = ifa->ifa_prefixlen;
	memcpy(out->addr.addr, mnl_attr_get_payload(a), alen);
	out->ifindex = ifa->ifa_index;
	out->scope = ifa->ifa_scope;
	out->flags = ifa->ifa_flags;
	if (tb[IFA_FLAGS] && mnl_attr_validate(tb[IFA_FLAGS], MNL_TYPE_U32) == 0)
		out->flags = mnl_attr_get_u32(tb[IFA_FLAGS]);
	if (tb[IFA_LABEL] && mnl_attr_validate(tb[IFA_LABEL], MNL_TYPE_NUL_STRING) == 0)
		snprintf(out->label, sizeof(out->label), "%s", mnl_attr_get_str(tb[IFA_LABEL]));
	return 1;
}

static int addr_list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct vec *v = data;
	struct rtnl_addr a;
	if (nlh->nlmsg_type != RTM_NEWADDR)
		return MNL_CB_OK;
	int ret = parse_addr(nlh, &a);
	if (ret < 0)
		return MNL_CB_ERROR;
	if (ret == 0)
		return MNL_CB_OK;
	struct rtnl_addr *out = vec_push(v);
	if (!out)
		return MNL_CB_ERROR;
	*out = a;
	return MNL_CB_OK;
}

int rtnl_addr_list(struct rtnl *r, int family, struct rtnl_addr **out, size_t *n, mg_err *e)
{
	char buf[RTNL_MSG_MAX];
	char xa[160];
	for (int attempt = 0;; attempt++) {
		struct vec v = {.elem = sizeof(struct rtnl_addr)};
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETADDR;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = nl_seq(&r->s);
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = (uint8_t)family;
		if (talk(r, nlh, addr_list_cb, &v, xa, sizeof(xa)) < 0) {
			int err = v.oom ? ENOMEM : errno;
			free(v.v);
			if (err == EINTR && attempt < 3) /* NLM_F_DUMP_INTR: dump again */
				continue;
			return mg_err_set(e, "list addresses: %s%s", strerror(err), xa);
		}
		*out = v.v;
		*n = v.n;
		return 0;
	}
}

/* ---- routes ---- */

static int route_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	if (mnl_attr_type_valid(a, RTA_MAX) > 0)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

/* Parse an RTM_NEWROUTE/DELROUTE: 1 ok, 0 not a plain unicast route, -1 malformed. */
static int parse_route(const struct nlmsghdr *nlh, struct rtnl_route *rt)
{
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct rtmsg)))
		return -1;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return 0;
	const struct nlattr *tb[RTA_MAX + 1] = {0};
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb) < 0)
		return -1;
	memset(rt, 0, sizeof(*rt));
	rt->dst.family = rtm->rtm_family;
	rt->dst.len = rtm->rtm_dst_len;
	size_t alen = rtm->rtm_family == AF_INET ? 4 : 16;
	if (rt->dst.len > alen * 8)
		return -1;
	if (tb[RTA_DST]) {
		if (mnl_attr_get_payload_len(tb[RTA_DST]) != alen)
			return -1;
		memcpy(rt->dst.addr, mnl_attr_get_payload(tb[RTA_DST]), alen);
	}
	rt->table = rtm->rtm_table;
	if (tb[RTA_TABLE] && mnl_attr_validate(tb[RTA_TABLE], MNL_TYPE_U32) == 0)
		rt->table = mnl_attr_get_u32(tb[RTA_TABLE]);
	if (tb[RTA_OIF] && mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) == 0)
		rt->oif = mnl_attr_get_u32(tb[RTA_OIF]);
	if (tb[RTA_PRIORITY] && mnl_attr_validate(tb[RTA_PRIORITY], MNL_TYPE_U32) == 0)
		rt->metric = mnl_attr_get_u32(tb[RTA_PRIORITY]);
	rt->protocol = rtm->rtm_protocol;
	if (rtm->rtm_type != RTN_UNICAST || (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	return 1;
}

struct route_dump {
	struct vec v;
	uint8_t proto;
	uint32_t table;
};

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_dump *d = data;
	struct rtnl_route rt;
	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	int ret = parse_route(nlh, &rt);
	if (ret < 0)
		return MNL_CB_ERROR;
	if (ret == 0 || rt.protocol != d->proto || (d->table && rt.table != d->table))
		return MNL_CB_OK;
	struct rtnl_route *slot = vec_push(&d->v);
	if (!slot)
		return MNL_CB_ERROR;
	*slot = rt;
	return MNL_CB_OK;
}

int rtnl_route_dump(struct rtnl *r, uint8_t proto, uint32_t table, struct rtnl_route **out,
		    size_t *n, mg_err *e)
{
	static const uint8_t families[] = {AF_INET, AF_INET6};
	char buf[RTNL_MSG_MAX];
	char xa[160];
	struct route_dump d = {
	    .v = {.elem = sizeof(struct rtnl_route)}, .proto = proto, .table = table};
	for (size_t i = 0; i < MG_ARRAY_SIZE(families); i++) {
		size_t start = d.v.n;
		for (int attempt = 0;; attempt++) {
			d.v.n = start;
			struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
			nlh->nlmsg_type = RTM_GETROUTE;
			nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
			nlh->nlmsg_seq = nl_seq(&r->s);
			struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
			rtm->rtm_family = families[i];
			/* Filter hints honoured with NETLINK_GET_STRICT_CHK; we filter again. */
			rtm->rtm_protocol = proto;
			rtm->rtm_table = table && table < 256 ? (uint8_t)table : 0;
			if (table >= 256)
				mnl_attr_put_u32(nlh, RTA_TABLE, table);
			if (talk(r, nlh, route_dump_cb, &d, xa, sizeof(xa)) == 0)
				break;
			int err = d.v.oom ? ENOMEM : errno;
			if (err == EINTR && attempt < 3)
				continue;
			free(d.v.v);
			return mg_err_set(e, "dump %s routes: %s%s",
					  families[i] == AF_INET ? "IPv4" : "IPv6", strerror(err),
					  xa);
		}
	}
	*out = d.v.v;
	*n = d.v.n;
	return 0;
}

struct route_op {
	struct rtnl_route *rt;
	bool del;
};

struct chunk {
	struct route_op *map;
	int batch_err;
	char text[NL_EXTACK_LEN]; /* the kernel's words on the first real failure */
};

static void chunk_err(size_t idx, int err, const char *text, void *arg)
{
	struct chunk *c = arg;
	if (idx == SIZE_MAX) {
		c->batch_err = err;
		return;
	}
	c->map[idx].rt->err = err;
	if (c->map[idx].del && (err == ENOENT || err == ESRCH))
		return; /* already gone: not a failure */
	if (text && !c->text[0])
		snprintf(c->text, sizeof(c->text), " (%s)", text);
}

static int apply_chunk(struct rtnl *r, char *buf, size_t len, uint32_t first_seq, size_t count,
		       struct chunk *c, mg_err *e)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	if (nl_batch(&r->s, &iov, 1, first_seq, count, chunk_err, c, e) < 0)
		return mg_err_prefix(e, "route messages");
	if (c->batch_err)
		return mg_err_set(e, "route messages: %s", strerror(c->batch_err));
	return 0;
}

int rtnl_routes_apply(struct rtnl *r, struct rtnl_route *add, size_t nadd, struct rtnl_route *del,
		      size_t ndel, uint8_t proto, size_t *nfailed, mg_err *e)
{
	size_t total = nadd + ndel;
	size_t failed = 0;
	if (nfailed)
		*nfailed = 0;
	if (!total)
		return 0;
	char *buf = malloc(RTNL_APPLY_CHUNK + RTNL_MSG_MAX);
	struct route_op *map = calloc(RTNL_APPLY_CHUNK / 32 + 1, sizeof(*map));
	if (!buf || !map) {
		free(buf);
		free(map);
		return mg_err_set(e, "apply routes: out of memory");
	}
	struct chunk ck = {.map = map};
	const struct rtnl_route *first_bad = NULL;
	bool first_bad_del = false;
	int ret = 0;
	size_t i = 0;
	/* Deletes first, so that a route moving to another key never collides. */
	while (i < total && ret == 0) {
		size_t len = 0, count = 0;
		uint32_t first_seq = r->s.seq + 1;
		while (i < total && len + RTNL_MSG_MAX <= RTNL_APPLY_CHUNK) {
			bool is_del = i < ndel;
			struct rtnl_route *rt = is_del ? &del[i] : &add[i - ndel];
			rt->err = 0;
			struct nlmsghdr *nlh = rtnl_build_route(
			    buf + len, is_del ? RTM_DELROUTE : RTM_NEWROUTE,
			    is_del ? NLM_F_ACK : NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK,
			    nl_seq(&r->s), rt, proto);
			len += nlh->nlmsg_len;
			map[count].rt = rt;
			map[count++].del = is_del;
			i++;
		}
		ret = apply_chunk(r, buf, len, first_seq, count, &ck, e);
		for (size_t k = 0; k < count && ret == 0; k++) {
			struct rtnl_route *rt = map[k].rt;
			bool is_del = map[k].del;
			if (is_del && (rt->err == ENOENT || rt->err == ESRCH))
				rt->err = 0; /* already gone */
			if (rt->err) {
				failed++;
				if (!first_bad) {
					first_bad = rt;
					first_bad_del = is_del;
				}
			}
		}
	}
	free(buf);
	free(map);
	if (ret < 0)
		return -1;
	if (nfailed)
		*nfailed = failed;
	if (first_bad) {
		char s[CIDR_STRLEN];
		return mg_err_set(e, "%s route %s dev #%u table %u: %s%s (%zu of %zu failed)",
				  first_bad_del ? "delete" : "add", cidr_format(&first_bad->dst, s),
				  first_bad->oif, norm_table(first_bad->table),
				  strerror(first_bad->err), ck.text, failed, total);
	}
	return 0;
}

/* ---- diff ---- */

static uint32_t norm_metric(const struct rtnl_route *rt)
{
	return rt->metric == 0 && rt->dst.family == AF_INET6 ? 1024 : rt->metric;
}

static int route_key_cmp(const void *pa, const void *pb)
{
	const struct rtnl_route *a = pa, *b = pb;
	int c = cidr_cmp(&a->dst, &b->dst);
	if (c)
		return c;
	uint32_t ta = norm_table(a->table), tb = norm_table(b->table);
	if (ta != tb)
		return ta < tb ? -1 : 1;
	uint32_t ma = norm_metric(a), mb = norm_metric(b);
	if (ma != mb)
		return ma < mb ? -1 : 1;
	return 0;
}

int rtnl_route_diff(const struct rtnl_route *desired, size_t nd, const struct rtnl_route *current,
		    size_t nc, struct rtnl_route **add, size_t *nadd, struct rtnl_route **del,
		    size_t *ndel, mg_err *e)
{
	*add = *del = NULL;
	*nadd = *ndel = 0;
	struct rtnl_route *d = malloc((nd ? nd : 1) * sizeof(*d));
	struct rtnl_route *c = malloc((nc ? nc : 1) * sizeof(*c));
	struct rtnl_route *a = malloc((nd ? nd : 1) * sizeof(*a));
	struct rtnl_route *x = malloc((nc ? nc : 1) * sizeof(*x));
	if (!d || !c || !a || !x) {
		free(d);
		free(c);
		free(a);
		free(x);
		return mg_err_set(e, "route diff: out of memory");
	}
	if (nd)
		memcpy(d, desired, nd * sizeof(*d));
	if (nc)
		memcpy(c, current, nc * sizeof(*c));
	qsort(d, nd, sizeof(*d), route_key_cmp);
	qsort(c, nc, sizeof(*c), route_key_cmp);
	size_t i = 0, j = 0, na = 0, nx = 0;
	while (i < nd || j < nc) {
		/* Skip duplicate keys in either list (first one wins). */
		if (i > 0 && i < nd && route_key_cmp(&d[i], &d[i - 1]) == 0) {
			i++;
			continue;
		}
		int cmp = i == nd ? 1 : j == nc ? -1 : route_key_cmp(&d[i], &c[j]);
		if (cmp < 0) {
			a[na++] = d[i++];
		} else if (cmp > 0) {
			x[nx++] = c[j++];
		} else {
			if (d[i].oif != c[j].oif)
				a[na++] = d[i]; /* NLM_F_REPLACE moves it to the right oif */
			i++;
			j++;
			/* further current entries with the same key (IPv6 multipath) go */
			while (j < nc && route_key_cmp(&c[j], &c[j - 1]) == 0)
				x[nx++] = c[j++];
		}
	}
	free(d);
	free(c);
	*add = a;
	*nadd = na;
	*del = x;
	*ndel = nx;
	return 0;
}

/* ---- monitor ---- */

int rtnl_mon_open(struct rtnl_mon *m, mg_err *e)
{
	memset(m, 0, sizeof(*m));
	m->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m->nl)
		return mg_err_set(e, "rtnetlink monitor socket: %s", strerror(errno));
	unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_IPV4_IFADDR |
			  RTMGRP_IPV6_IFADDR;
	if (mnl_socket_bind(m->nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		int err = errno;
		mnl_socket_close(m->nl);
		m->nl = NULL;
		return mg_err_set(e, "rtnetlink monitor bind: %s", strerror(err));
	}
	int sz = RTNL_SOCKBUF; /* best effort: FORCE needs CAP_NET_ADMIN */
	if (setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	m->buflen = RTNL_RCVBUF;
	m->buf = malloc(m->buflen);
	if (!m->buf) {
		mnl_socket_close(m->nl);
		m->nl = NULL;
		return mg_err_set(e, "rtnetlink monitor: out of memory");
	}
	return 0;
}

int rtnl_mon_fd(const struct rtnl_mon *m)
{
	return mnl_socket_get_fd(m->nl);
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	if (mnl_attr_type_valid(a, IFLA_MAX) > 0)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

int rtnl_parse_event(const struct nlmsghdr *nlh, struct rtnl_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK: {
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
			return -1;
		const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
		const struct nlattr *tb[IFLA_MAX + 1] = {0};
		if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, tb) < 0)
			return -1;
		ev->type = nlh->nlmsg_type == RTM_NEWLINK ? RTNL_EV_LINK_NEW : RTNL_EV_LINK_DEL;
		ev->ifindex = (uint32_t)ifi->ifi_index;
		ev->up = (ifi->ifi_flags & IFF_UP) != 0;
		if (tb[IFLA_IFNAME] && mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) == 0)
			snprintf(ev->ifname, sizeof(ev->ifname), "%s",
				 mnl_attr_get_str(tb[IFLA_IFNAME]));
		return 1;
	}
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		struct rtnl_route rt;
		int ret = parse_route(nlh, &rt);
		if (ret <= 0)
			return ret;
		ev->type = nlh->nlmsg_type == RTM_NEWROUTE ? RTNL_EV_ROUTE_NEW : RTNL_EV_ROUTE_DEL;
		ev->ifindex = rt.oif;
		ev->prefix = rt.dst;
		ev->protocol = rt.protocol;
		ev->table = rt.table;
		return 1;
	}
	case RTM_NEWADDR:
	case RTM_DELADDR: {
		struct rtnl_addr a;
		int ret = parse_addr(nlh, &a);
		if (ret <= 0)
			return ret;
		ev->type = nlh->nlmsg_type == RTM_NEWADDR ? RTNL_EV_ADDR_NEW : RTNL_EV_ADDR_DEL;
		ev->ifindex = a.ifindex;
		ev->prefix = a.addr;
		return 1;
	}
	default:
		return 0;
	}
}

int rtnl_mon_read(struct rtnl_mon *m, rtnl_event_cb cb, void *arg, mg_err *e)
{
	int events = 0;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(m->nl, m->buf, m->buflen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return events;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				struct rtnl_event ev = {.type = RTNL_EV_OVERFLOW};
				cb(&ev, arg);
				events++;
				continue;
			}
			return mg_err_set(e, "read rtnetlink events: %s", strerror(errno));
		}
		int left = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)m->buf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			struct rtnl_event ev;
			if (rtnl_parse_event(nlh, &ev) == 1) {
				cb(&ev, arg);
				events++;
			}
		}
	}
}

void rtnl_mon_close(struct rtnl_mon *m)
{
	if (m->nl)
		mnl_socket_close(m->nl);
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

int rtnl_routes_sync(struct rtnl *r, uint8_t proto, uint32_t table, const struct rtnl_route *want,
		     size_t nw, size_t *nadd_out, size_t *ndel_out, mg_err *e)
{
	struct rtnl_route *cur = NULL, *add = NULL, *del = NULL;
	size_t nc = 0, nadd = 0, ndel = 0, nfailed = 0;
	int ret = -1;

	if (nadd_out)
		*nadd_out = 0;
	if (ndel_out)
		*ndel_out = 0;
	if (rtnl_route_dump(r, proto, table, &cur, &nc, e) < 0 ||
	    rtnl_route_diff(want, nw, cur, nc, &add, &nadd, &del, &ndel, e) < 0)
		goto out;
	if ((nadd || ndel) && rtnl_routes_apply(r, add, nadd, del, ndel, proto, &nfailed, e) < 0) {
		mg_err_prefix(e, "routes (%zu of %zu changes failed)", nfailed, nadd + ndel);
		goto out;
	}
	if (nadd_out)
		*nadd_out = nadd;
	if (ndel_out)
		*ndel_out = ndel;
	ret = 0;
out:
	free(cur);
	free(add);
	free(del);
	return ret;
}
