/* SPDX-License-Identifier: MIT */
/* Test driver: the dataplane library (lib/rtnl, lib/wg) behind a small CLI. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "log.h"
#include "rtnl.h"
#include "wg.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: mg_dptool wg-up IFNAME PRIVKEY_FILE PORT ADDR/LEN [auto|kernel|userspace]\n"
		"       mg_dptool peer IFNAME PUBKEY_B64 ENDPOINT|- KEEPALIVE CIDR...\n"
		"       mg_dptool wg-show IFNAME\n"
		"       mg_dptool wg-down IFNAME\n"
		"       mg_dptool routes-apply IFNAME PROTO [CIDR...]\n"
		"       mg_dptool routes-show PROTO\n"
		"       mg_dptool addrs\n"
		"       mg_dptool monitor MILLISECONDS\n");
	return 2;
}

static int fail(const mg_err *e)
{
	fprintf(stderr, "mg_dptool: %s\n", e->msg);
	return 1;
}

static int read_key(const char *path, uint8_t key[WG_KEY_LEN], mg_err *e)
{
	char *buf;
	size_t len;
	if (fs_read_bounded(path, 256, &buf, &len, e) < 0)
		return -1;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\r'))
		buf[--len] = 0;
	int ret = wgkey_from_base64(buf, key);
	wgkey_wipe(buf, len);
	free(buf);
	if (ret < 0)
		return mg_err_set(e, "%s: not a base64 WireGuard key", path);
	return 0;
}

static int parse_endpoint(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	int port = atoi(colon + 1);
	if (port <= 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		host[strlen(host) - 1] = 0;
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -1;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	return 0;
}

static int cmd_wg_up(int argc, char **argv)
{
	mg_err e = {{0}};
	if (argc < 6)
		return usage();
	const char *ifname = argv[2];
	enum wg_mode mode = WG_MODE_AUTO;
	if (argc > 6 && wg_mode_parse(argv[6], &mode) < 0)
		return usage();
	struct cidr addr;
	if (cidr_parse(argv[5], &addr, CIDR_ALLOW_HOST_BITS, &e) < 0)
		return fail(&e);
	struct wg_device dev = {0};
	snprintf(dev.ifname, sizeof(dev.ifname), "%s", ifname);
	if (read_key(argv[3], dev.private_key, &e) < 0)
		return fail(&e);
	dev.has_private_key = true;
	dev.listen_port = (uint16_t)atoi(argv[4]);
	dev.replace_peers = true;

	struct wg_ctx *ctx = wg_ctx_new(mode);
	if (!ctx)
		return fail(&e);
	int ret = wg_attach(ctx, ifname, &e);
	if (ret == 0)
		ret = wg_set_device(ctx, &dev, &e);
	const char *backend = wg_backend_name(ctx);
	pid_t child = wg_child_pid(ctx);
	wg_ctx_free(ctx);
	wgkey_wipe(dev.private_key, sizeof(dev.private_key));
	if (ret < 0)
		return fail(&e);

	struct rtnl r;
	uint32_t idx;
	if (rtnl_open(&r, &e) < 0)
		return fail(&e);
	ret = rtnl_link_index(&r, ifname, &idx, &e);
	if (ret == RTNL_ENODEV)
		ret = mg_err_set(&e, "link %s vanished", ifname);
	if (ret == 0)
		ret = rtnl_addr_add(&r, idx, &addr, IFA_F_NOPREFIXROUTE, &e);
	if (ret == 0)
		ret = rtnl_link_set(&r, idx, true, 1420, &e);
	rtnl_close(&r);
	if (ret < 0)
		return fail(&e);
	printf("backend=%s pid=%d ifindex=%u\n", backend, (int)child, idx);
	return 0;
}

static int cmd_peer(int argc, char **argv)
{
	mg_err e = {{0}};
	if (argc < 6)
		return usage();
	struct wg_device dev = {0};
	struct wg_peer peer = {0};
	snprintf(dev.ifname, sizeof(dev.ifname), "%s", argv[2]);
	if (wgkey_from_base64(argv[3], peer.public_key) < 0) {
		fprintf(stderr, "mg_dptool: bad public key\n");
		return 2;
	}
	if (strcmp(argv[4], "-")) {
		if (parse_endpoint(argv[4], &peer.endpoint) < 0) {
			fprintf(stderr, "mg_dptool: bad endpoint %s\n", argv[4]);
			return 2;
		}
		peer.has_endpoint = true;
	}
	peer.persistent_keepalive = (uint16_t)atoi(argv[5]);
	peer.replace_allowed_ips = true;
	size_t n = (size_t)(argc - 6);
	struct cidr *ips = calloc(n ? n : 1, sizeof(*ips));
	if (!ips)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (cidr_parse(argv[6 + i], &ips[i], 0, &e) < 0) {
			free(ips);
			return fail(&e);
		}
	peer.allowed_ips = ips;
	peer.n_allowed_ips = n;
	dev.peers = &peer;
	dev.n_peers = 1;
	struct wg_ctx *ctx = wg_ctx_new(WG_MODE_AUTO);
	int ret = ctx ? wg_attach(ctx, dev.ifname, &e) : mg_err_set(&e, "out of memory");
	if (ret == 0)
		ret = wg_set_device(ctx, &dev, &e);
	wg_ctx_free(ctx);
	free(ips);
	return ret < 0 ? fail(&e) : 0;
}

static int cmd_wg_show(int argc, char **argv)
{
	mg_err e = {{0}};
	if (argc < 3)
		return usage();
	struct wg_ctx *ctx = wg_ctx_new(WG_MODE_AUTO);
	if (!ctx)
		return 1;
	wg_select_existing(ctx, argv[2]);
	struct wg_device dev;
	if (wg_get_device(ctx, argv[2], &dev, &e) < 0) {
		wg_ctx_free(ctx);
		return fail(&e);
	}
	uint8_t pub[WG_KEY_LEN];
	char b64[WG_KEY_B64_LEN];
	printf("backend %s\nlisten_port %u\n", wg_backend_name(ctx), dev.listen_port);
	wg_ctx_free(ctx);
	if (dev.has_private_key && wgkey_public(dev.private_key, pub, &e) == 0) {
		wgkey_to_base64(pub, b64);
		printf("public_key %s\n", b64);
	}
	for (size_t i = 0; i < dev.n_peers; i++) {
		const struct wg_peer *p = &dev.peers[i];
		char ep[80] = "-";
		char a[INET6_ADDRSTRLEN];
		if (p->has_endpoint && p->endpoint.ss_family == AF_INET) {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)&p->endpoint;
			snprintf(ep, sizeof(ep), "%s:%u",
				 inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)),
				 ntohs(s4->sin_port));
		} else if (p->has_endpoint) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&p->endpoint;
			snprintf(ep, sizeof(ep), "[%s]:%u",
				 inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)),
				 ntohs(s6->sin6_port));
		}
		wgkey_to_base64(p->public_key, b64);
		printf("peer %s endpoint %s keepalive %u handshake %" PRId64 " rx %" PRIu64
		       " tx %" PRIu64 " allowed",
		       b64, ep, p->persistent_keepalive, p->last_handshake_sec, p->rx_bytes,
		       p->tx_bytes);
		for (size_t k = 0; k < p->n_allowed_ips; k++) {
			char c[CIDR_STRLEN];
			printf("%s%s", k ? "," : " ", cidr_format(&p->allowed_ips[k], c));
		}
		printf("\n");
	}
	wg_device_free(&dev);
	return 0;
}

static int cmd_wg_down(int argc, char **argv)
{
	mg_err e = {{0}};
	if (argc < 3)
		return usage();
	struct wg_ctx *ctx = wg_ctx_new(WG_MODE_AUTO);
	if (!ctx)
		return 1;
	int ret = wg_destroy(ctx, argv[2], &e);
	wg_ctx_free(ctx);
	return ret < 0 ? fail(&e) : 0;
}

static int cmd_routes_apply(int argc, char **argv)
{
	mg_err e = {{0}};
	if (argc < 4)
		return usage();
	struct rtnl r;
	uint32_t idx;
	uint8_t proto = (uint8_t)atoi(argv[3]);
	if (rtnl_open(&r, &e) < 0)
		return fail(&e);
	int ret = rtnl_link_index(&r, argv[2], &idx, &e);
	if (ret != 0) {
		rtnl_close(&r);
		if (ret == RTNL_ENODEV)
			mg_err_set(&e, "no link %s", argv[2]);
		return fail(&e);
	}
	size_t nd = (size_t)(argc - 4);
	struct rtnl_route *want = calloc(nd ? nd : 1, sizeof(*want));
	struct rtnl_route *cur = NULL, *add = NULL, *del = NULL;
	size_t nc = 0, na = 0, nx = 0, nfailed = 0;
	if (!want) {
		rtnl_close(&r);
		return 1;
	}
	for (size_t i = 0; i < nd && ret == 0; i++) {
		ret = cidr_parse(argv[4 + i], &want[i].dst, 0, &e);
		want[i].oif = idx;
	}
	if (ret == 0)
		ret = rtnl_route_dump(&r, proto, 0, &cur, &nc, &e);
	if (ret == 0)
		ret = rtnl_route_diff(want, nd, cur, nc, &add, &na, &del, &nx, &e);
	if (ret == 0)
		ret = rtnl_routes_apply(&r, add, na, del, nx, proto, &nfailed, &e);
	if (ret == 0)
		printf("add %zu del %zu\n", na, nx);
	free(want);
	free(cur);
	free(add);
	free(del);
	rtnl_close(&r);
	return ret < 0 ? fail(&e) : 0;
}

static int cmd_routes_show(int argc, char **argv)
{
	mg_err e = {{0}};
	if (argc < 3)
		return usage();
	struct rtnl r;
	struct rtnl_route *rt;
	size_t n;
	if (rtnl_open(&r, &e) < 0)
		return fail(&e);
	int ret = rtnl_route_dump(&r, (uint8_t)atoi(argv[2]), 0, &rt, &n, &e);
	rtnl_close(&r);
	if (ret < 0)
		return fail(&e);
	for (size_t i = 0; i < n; i++) {
		char c[CIDR_STRLEN], ifn[IF_NAMESIZE] = "?";
		if_indextoname(rt[i].oif, ifn);
		printf("%s dev %s table %u metric %u\n", cidr_format(&rt[i].dst, c), ifn,
		       rt[i].table, rt[i].metric);
	}
	free(rt);
	return 0;
}

static int cmd_addrs(void)
{
	mg_err e = {{0}};
	struct rtnl r;
	struct rtnl_addr *a;
	size_t n;
	if (rtnl_open(&r, &e) < 0)
		return fail(&e);
	int ret = rtnl_addr_list(&r, AF_UNSPEC, &a, &n, &e);
	rtnl_close(&r);
	if (ret < 0)
		return fail(&e);
	for (size_t i = 0; i < n; i++) {
		char c[CIDR_STRLEN], ifn[IF_NAMESIZE] = "?";
		if_indextoname(a[i].ifindex, ifn);
		printf("%s dev %s flags 0x%x%s\n", cidr_format(&a[i].addr, c), ifn, a[i].flags,
		       a[i].flags & IFA_F_NOPREFIXROUTE ? " noprefixroute" : "");
	}
	free(a);
	return 0;
}

/*
 * Per-route error mapping: in one apply, a good route, one on a link that does
 * not exist, another good one, and a delete of a route that is already gone.
 * Prints "err=<errno names>" per route and the one-line error.
 */
static int cmd_routes_errors(int argc, char **argv)
{
	mg_err e = {{0}};
	if (argc < 4)
		return usage();
	struct rtnl r;
	uint32_t idx;
	uint8_t proto = (uint8_t)atoi(argv[3]);
	if (rtnl_open(&r, &e) < 0)
		return fail(&e);
	if (rtnl_link_index(&r, argv[2], &idx, &e) != 0) {
		rtnl_close(&r);
		return fail(&e);
	}
	struct rtnl_route add[3] = {0}, del[1] = {0};
	const char *dst[] = {"198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24"};
	for (size_t i = 0; i < 3; i++) {
		cidr_parse(dst[i], &add[i].dst, 0, NULL);
		add[i].oif = i == 1 ? 0x7ffffff0 : idx;
	}
	cidr_parse("198.18.4.0/24", &del[0].dst, 0, NULL);
	del[0].oif = idx;
	size_t nfailed = 0;
	int ret = rtnl_routes_apply(&r, add, 3, del, 1, proto, &nfailed, &e);
	rtnl_close(&r);
	printf("ret %d failed %zu\n", ret, nfailed);
	for (size_t i = 0; i < 3; i++)
		printf("add %s err %s\n", dst[i], add[i].err ? strerror(add[i].err) : "0");
	printf("del 198.18.4.0/24 err %s\n", del[0].err ? strerror(del[0].err) : "0");
	printf("msg %s\n", e.msg);
	return 0;
}

static const char *const ev_names[] = {"link-new", "link-del", "route-new", "route-del",
				       "addr-new", "addr-del", "overflow"};

static void print_event(const struct rtnl_event *ev, void *arg)
{
	(void)arg;
	char c[CIDR_STRLEN] = "";
	if (ev->type >= RTNL_EV_ROUTE_NEW && ev->type <= RTNL_EV_ADDR_DEL)
		cidr_format(&ev->prefix, c);
	printf("%s ifindex %u name %s up %d prefix %s proto %u\n", ev_names[ev->type], ev->ifindex,
	       ev->ifname[0] ? ev->ifname : "-", ev->up, c[0] ? c : "-", ev->protocol);
	fflush(stdout);
}

static int cmd_monitor(int argc, char **argv)
{
	mg_err e = {{0}};
	if (argc < 3)
		return usage();
	long ms = atol(argv[2]);
	struct rtnl_mon m;
	if (rtnl_mon_open(&m, &e) < 0)
		return fail(&e);
	printf("ready\n");
	fflush(stdout);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int ret = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long el =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (el >= ms)
			break;
		struct pollfd pfd = {.fd = rtnl_mon_fd(&m), .events = POLLIN};
		int p = poll(&pfd, 1, (int)(ms - el));
		if (p < 0 && errno != EINTR) {
			ret = mg_err_set(&e, "poll: %s", strerror(errno));
			break;
		}
		if (p > 0 && rtnl_mon_read(&m, print_event, NULL, &e) < 0) {
			ret = -1;
			break;
		}
	}
	rtnl_mon_close(&m);
	return ret < 0 ? fail(&e) : 0;
}

int main(int argc, char **argv)
{
	log_init("mg_dptool", MG_LOG_WARN);
	if (argc < 2)
		return usage();
	const char *c = argv[1];
	if (!strcmp(c, "wg-up"))
		return cmd_wg_up(argc, argv);
	if (!strcmp(c, "peer"))
		return cmd_peer(argc, argv);
	if (!strcmp(c, "wg-show"))
		return cmd_wg_show(argc, argv);
	if (!strcmp(c, "wg-down"))
		return cmd_wg_down(argc, argv);
	if (!strcmp(c, "routes-apply"))
		return cmd_routes_apply(argc, argv);
	if (!strcmp(c, "routes-errors"))
		return cmd_routes_errors(argc, argv);
	if (!strcmp(c, "routes-show"))
		return cmd_routes_show(argc, argv);
	if (!strcmp(c, "addrs"))
		return cmd_addrs();
	if (!strcmp(c, "monitor"))
		return cmd_monitor(argc, argv);
	return usage();
}
