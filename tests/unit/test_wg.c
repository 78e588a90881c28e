/* SPDX-License-Identifier: MIT */
/* lib/wg: kernel SET_DEVICE messages (attributes, nesting, splitting) and the UAPI text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wg.h"
#include "wg_kernel.h"
#include "wg_uapi.h"

#define FAMILY  0x1b
#define MAXATTR 16

static int tb_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t t = mnl_attr_get_type(a) & NLA_TYPE_MASK;
	assert_true(t < MAXATTR);
	tb[t] = a;
	return MNL_CB_OK;
}

static struct cidr C(const char *s) {
	struct cidr c;
	assert_int_equal(cidr_parse(s, &c, 0, NULL), 0);
	return c;
}

static void
fill_key(uint8_t k[WG_KEY_LEN], uint8_t v)
{
	for (int i = 0; i < WG_KEY_LEN; i++)
		k[i] = (uint8_t)(v + i);
}

/* A device with two peers: IPv4 and IPv6 endpoints, three and one allowed IPs. */
static void two_peer_device(struct wg_device *dev, struct wg_peer peers[2], struct cidr ips0[3],
			    struct cidr ips1[1])
{
	memset(dev, 0, sizeof(*dev));
	memset(peers, 0, 2 * sizeof(*peers));
	snprintf(dev->ifname, sizeof(dev->ifname), "mg0");
	fill_key(dev->private_key, 0x10);
	dev->has_private_key = true;
	dev->listen_port = 51820;
	dev->replace_peers = true;
	fill_key(peers[0].public_key, 0x40);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&peers[0].endpoint;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(51820);
	inet_pton(AF_INET, "198.51.100.2", &s4->sin_addr);
	peers[0].has_endpoint = true;
	peers[0].persistent_keepalive = 25;
	peers[0].replace_allowed_ips = true;
	ips0[0] = C("100.96.0.2/32");
	ips0[1] = C("192.0.2.0/24");
	ips0[2] = C("fd00:1::/64");
	peers[0].allowed_ips = ips0;
	peers[0].n_allowed_ips = 3;
	fill_key(peers[1].public_key, 0x80);
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&peers[1].endpoint;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(4500);
	inet_pton(AF_INET6, "2001:db8::7", &s6->sin6_addr);
	peers[1].has_endpoint = true;
	ips1[0] = C("100.96.0.3/32");
	peers[1].allowed_ips = ips1;
	peers[1].n_allowed_ips = 1;
	dev->peers = peers;
	dev->n_peers = 2;
}

static void test_nl_set_two_peers(void **state)
{
	(void)state;
	struct wg_device dev;
	struct wg_peer peers[2];
	struct cidr ips0[3], ips1[1];
	two_peer_device(&dev, peers, ips0, ips1);
	char buf[4096];
	struct wg_nl_cursor cur = {0};
	mg_err e;
	struct nlmsghdr *nlh = wg_nl_build_set(buf, sizeof(buf), FAMILY, 7, &dev, &cur, &e);
	assert_non_null(nlh);
	assert_true(cur.done);
	assert_int_equal(nlh->nlmsg_type, FAMILY);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	const struct genlmsghdr *gh = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(gh->cmd, WG_CMD_SET_DEVICE);
	assert_int_equal(gh->version, WG_GENL_VERSION);

	const struct nlattr *tb[MAXATTR] = {0};
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*gh), tb_cb, tb), MNL_CB_OK);
	assert_string_equal(mnl_attr_get_str(tb[WGDEVICE_A_IFNAME]), "mg0");
	assert_memory_equal(mnl_attr_get_payload(tb[WGDEVICE_A_PRIVATE_KEY]), dev.private_key,
			    WG_KEY_LEN);
	assert_int_equal(mnl_attr_get_u16(tb[WGDEVICE_A_LISTEN_PORT]), 51820);
	assert_int_equal(mnl_attr_get_u32(tb[WGDEVICE_A_FLAGS]), WGDEVICE_F_REPLACE_PEERS);
	assert_null(tb[WGDEVICE_A_FWMARK]);
	assert_non_null(tb[WGDEVICE_A_PEERS]);

	const struct nlattr *p;
	int idx = 0;
	mnl_attr_for_each_nested(p, tb[WGDEVICE_A_PEERS])
	{
		const struct nlattr *pt[MAXATTR] = {0};
		assert_int_equal(mnl_attr_parse_nested(p, tb_cb, pt), MNL_CB_OK);
		assert_memory_equal(mnl_attr_get_payload(pt[WGPEER_A_PUBLIC_KEY]),
				    peers[idx].public_key, WG_KEY_LEN);
		if (idx == 0) {
			assert_int_equal(mnl_attr_get_u32(pt[WGPEER_A_FLAGS]),
					 WGPEER_F_REPLACE_ALLOWEDIPS);
			assert_int_equal(mnl_attr_get_payload_len(pt[WGPEER_A_ENDPOINT]),
					 sizeof(struct sockaddr_in));
			const struct sockaddr_in *s4 = mnl_attr_get_payload(pt[WGPEER_A_ENDPOINT]);
			assert_int_equal(s4->sin_family, AF_INET);
			assert_int_equal(ntohs(s4->sin_port), 51820);
			assert_int_equal(
			    mnl_attr_get_u16(pt[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]), 25);
			const struct nlattr *ip;
			int n = 0;
			mnl_attr_for_each_nested(ip, pt[WGPEER_A_ALLOWEDIPS])
			{
				const struct nlattr *at[MAXATTR] = {0};
				assert_int_equal(mnl_attr_parse_nested(ip, tb_cb, at), MNL_CB_OK);
				assert_int_equal(mnl_attr_get_u16(at[WGALLOWEDIP_A_FAMILY]),
						 ips0[n].family);
				assert_int_equal(mnl_attr_get_u8(at[WGALLOWEDIP_A_CIDR_MASK]),
						 ips0[n].len);
				assert_int_equal(mnl_attr_get_payload_len(at[WGALLOWEDIP_A_IPADDR]),
						 cidr_addr_len(&ips0[n]));
				assert_memory_equal(mnl_attr_get_payload(at[WGALLOWEDIP_A_IPADDR]),
						    ips0[n].addr, cidr_addr_len(&ips0[n]));
				n++;
			}
			assert_int_equal(n, 3);
		} else {
			assert_null(pt[WGPEER_A_FLAGS]); /* no flags wanted: none sent */
			assert_int_equal(mnl_attr_get_payload_len(pt[WGPEER_A_ENDPOINT]),
					 sizeof(struct sockaddr_in6));
			const struct sockaddr_in6 *s6 = mnl_attr_get_payload(pt[WGPEER_A_ENDPOINT]);
			assert_int_equal(s6->sin6_family, AF_INET6);
			assert_int_equal(ntohs(s6->sin6_port), 4500);
		}
		idx++;
	}
	assert_int_equal(idx, 2);

	/* the GET parser reads the same layout back */
	struct wg_device back = {0};
	assert_int_equal(wg_nl_parse_get(nlh, &back, &e), 0);
	assert_int_equal(back.n_peers, 2);
	assert_int_equal(back.peers[0].n_allowed_ips, 3);
	assert_true(cidr_equal(&back.peers[0].allowed_ips[2], &ips0[2]));
	assert_true(back.peers[1].has_endpoint);
	assert_int_equal(back.peers[1].endpoint.ss_family, AF_INET6);
	wg_device_free(&back);
}

/* Build every message for dev, check each, and merge them back with the GET parser. */
static size_t build_all(const struct wg_device *dev, size_t bufsize, struct wg_device *merged)
{
	char *buf = malloc(bufsize);
	assert_non_null(buf);
	struct wg_nl_cursor cur = {0};
	mg_err e;
	size_t msgs = 0;
	memset(merged, 0, sizeof(*merged));
	while (!cur.done) {
		struct nlmsghdr *nlh =
		    wg_nl_build_set(buf, bufsize, FAMILY, (uint32_t)msgs, dev, &cur, &e);
		assert_non_null(nlh);
		assert_true(nlh->nlmsg_len <= bufsize);
		const struct nlattr *tb[MAXATTR] = {0};
		assert_int_equal(mnl_attr_parse(nlh, sizeof(struct genlmsghdr), tb_cb, tb),
				 MNL_CB_OK);
		assert_non_null(tb[WGDEVICE_A_IFNAME]);
		if (msgs == 0) {
			assert_non_null(tb[WGDEVICE_A_PRIVATE_KEY]);
			assert_non_null(tb[WGDEVICE_A_FLAGS]);
		} else {
			/* only IFNAME and PEERS after the first message */
			assert_null(tb[WGDEVICE_A_PRIVATE_KEY]);
			assert_null(tb[WGDEVICE_A_FLAGS]);
			assert_null(tb[WGDEVICE_A_LISTEN_PORT]);
			assert_non_null(tb[WGDEVICE_A_PEERS]);
			/* a continued peer must not say REPLACE_ALLOWEDIPS again */
			const struct nlattr *p = mnl_attr_get_payload(tb[WGDEVICE_A_PEERS]);
			const struct nlattr *pt[MAXATTR] = {0};
			assert_int_equal(mnl_attr_parse_nested(p, tb_cb, pt), MNL_CB_OK);
			bool continued =
			    merged->n_peers &&
			    !memcmp(mnl_attr_get_payload(pt[WGPEER_A_PUBLIC_KEY]),
				    merged->peers[merged->n_peers - 1].public_key, WG_KEY_LEN);
			if (continued) {
				assert_null(pt[WGPEER_A_FLAGS]);
				assert_null(pt[WGPEER_A_ENDPOINT]);
			}
		}
		assert_int_equal(wg_nl_parse_get(nlh, merged, &e), 0);
		msgs++;
		assert_true(msgs < 10000);
	}
	free(buf);
	return msgs;
}

static void test_nl_set_split(void **state)
{
	(void)state;
	/* one peer with 1000 allowed IPs (about 24 KB of attributes) */
	struct wg_device dev = {0};
	struct wg_peer peer = {0};
	snprintf(dev.ifname, sizeof(dev.ifname), "mg0");
	dev.has_private_key = true;
	dev.replace_peers = true;
	fill_key(peer.public_key, 1);
	peer.replace_allowed_ips = true;
	peer.n_allowed_ips = 1000;
	peer.allowed_ips = calloc(peer.n_allowed_ips, sizeof(struct cidr));
	assert_non_null(peer.allowed_ips);
	for (size_t i = 0; i < peer.n_allowed_ips; i++) {
		struct cidr *c = &peer.allowed_ips[i];
		c->family = AF_INET;
		c->len = 32;
		c->addr[0] = 10;
		c->addr[2] = (uint8_t)(i >> 8);
		c->addr[3] = (uint8_t)i;
	}
	dev.peers = &peer;
	dev.n_peers = 1;
	struct wg_device merged;
	size_t msgs = build_all(&dev, 4096, &merged);
	assert_true(msgs >= 6);
	assert_int_equal(merged.n_peers, 1);
	assert_int_equal(merged.peers[0].n_allowed_ips, 1000);
	for (size_t i = 0; i < 1000; i++)
		assert_true(cidr_equal(&merged.peers[0].allowed_ips[i], &peer.allowed_ips[i]));
	wg_device_free(&merged);

	/* 60 peers of 40 allowed IPs each: splits between and inside peers */
	struct wg_peer *many = calloc(60, sizeof(*many));
	assert_non_null(many);
	for (size_t p = 0; p < 60; p++) {
		fill_key(many[p].public_key, (uint8_t)(p * 3));
		many[p].allowed_ips = peer.allowed_ips + p * 10;
		many[p].n_allowed_ips = 40;
	}
	dev.peers = many;
	dev.n_peers = 60;
	msgs = build_all(&dev, 4096, &merged);
	assert_true(msgs > 1);
	assert_int_equal(merged.n_peers, 60);
	for (size_t p = 0; p < 60; p++) {
		assert_memory_equal(merged.peers[p].public_key, many[p].public_key, WG_KEY_LEN);
		assert_int_equal(merged.peers[p].n_allowed_ips, 40);
		assert_true(cidr_equal(&merged.peers[p].allowed_ips[39], &many[p].allowed_ips[39]));
	}
	wg_device_free(&merged);

	/* a buffer too small for even one peer: an error, not a loop */
	char tiny[64];
	struct wg_nl_cursor cur = {.started = true};
	mg_err e = {{0}};
	assert_null(wg_nl_build_set(tiny, sizeof(tiny), FAMILY, 1, &dev, &cur, &e));
	assert_non_null(strstr(e.msg, "too small"));
	free(many);
	free(peer.allowed_ips);
}

static void test_uapi_set_text(void **state)
{
	(void)state;
	struct wg_device dev;
	struct wg_peer peers[3];
	struct cidr ips0[3], ips1[1];
	two_peer_device(&dev, peers, ips0, ips1);
	memset(&peers[2], 0, sizeof(peers[2]));
	fill_key(peers[2].public_key, 0xc0);
	peers[2].remove = true;
	dev.n_peers = 3;
	dev.has_fwmark = true;
	dev.fwmark = 0x6d;
	char *text;
	size_t len;
	mg_err e;
	assert_int_equal(wg_uapi_set_text(&dev, &text, &len, &e), 0);
	const char *want =
	    "set=1\n"
	    "private_key=101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\n"
	    "listen_port=51820\n"
	    "fwmark=109\n"
	    "replace_peers=true\n"
	    "public_key=404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\n"
	    "endpoint=198.51.100.2:51820\n"
	    "persistent_keepalive_interval=25\n"
	    "replace_allowed_ips=true\n"
	    "allowed_ip=100.96.0.2/32\n"
	    "allowed_ip=192.0.2.0/24\n"
	    "allowed_ip=fd00:1::/64\n"
	    "public_key=808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\n"
	    "endpoint=[2001:db8::7]:4500\n"
	    "persistent_keepalive_interval=0\n"
	    "allowed_ip=100.96.0.3/32\n"
	    "public_key=c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf\n"
	    "remove=true\n"
	    "\n";
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	wg_text_free(text, len);
}

static const char sample_get[] =
    "private_key=101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\n"
    "listen_port=51820\n"
    "fwmark=0\n"
    "some_future_key=whatever\n"
    "public_key=404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\n"
    "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
    "protocol_version=1\n"
    "endpoint=198.51.100.2:51820\n"
    "last_handshake_time_sec=1700000000\n"
    "last_handshake_time_nsec=123\n"
    "tx_bytes=1184\n"
    "rx_bytes=968\n"
    "persistent_keepalive_interval=25\n"
    "allowed_ip=100.96.0.2/32\n"
    "allowed_ip=192.0.2.0/24\n"
    "public_key=808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\n"
    "endpoint=[2001:db8::7]:4500\n"
    "last_handshake_time_sec=0\n"
    "last_handshake_time_nsec=0\n"
    "tx_bytes=0\n"
    "rx_bytes=0\n"
    "persistent_keepalive_interval=0\n"
    "allowed_ip=fd00:1::/64\n"
    "errno=0\n"
    "\n";

static void test_uapi_parse_get(void **state)
{
	(void)state;
	struct wg_device dev;
	mg_err e;
	assert_int_equal(wg_uapi_parse_get(sample_get, strlen(sample_get), &dev, &e), 0);
	assert_true(dev.has_private_key);
	assert_int_equal(dev.private_key[0], 0x10);
	assert_int_equal(dev.listen_port, 51820);
	assert_int_equal(dev.n_peers, 2);
	const struct wg_peer *p = &dev.peers[0];
	assert_int_equal(p->public_key[0], 0x40);
	assert_true(p->has_endpoint);
	assert_int_equal(p->endpoint.ss_family, AF_INET);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&p->endpoint)->sin_port), 51820);
	assert_int_equal(p->last_handshake_sec, 1700000000);
	assert_int_equal(p->last_handshake_nsec, 123);
	assert_int_equal(p->tx_bytes, 1184);
	assert_int_equal(p->rx_bytes, 968);
	assert_int_equal(p->persistent_keepalive, 25);
	assert_int_equal(p->n_allowed_ips, 2);
	struct cidr c = C("192.0.2.0/24");
	assert_true(cidr_equal(&p->allowed_ips[1], &c));
	p = &dev.peers[1];
	assert_int_equal(p->endpoint.ss_family, AF_INET6);
	assert_int_equal(ntohs(((const struct sockaddr_in6 *)&p->endpoint)->sin6_port), 4500);
	assert_int_equal(p->n_allowed_ips, 1);
	wg_device_free(&dev);
	assert_int_equal(dev.n_peers, 0);
	assert_null(dev.peers);

	/* the reply to set */
	assert_int_equal(wg_uapi_parse_get("errno=0\n\n", 9, &dev, &e), 0);
	wg_device_free(&dev);
}

static void expect_fail(const char *text, const char *needle)
{
	struct wg_device dev;
	mg_err e = {{0}};
	assert_int_equal(wg_uapi_parse_get(text, strlen(text), &dev, &e), -1);
	if (!strstr(e.msg, needle))
		fail_msg("\"%s\" not in \"%s\"", needle, e.msg);
	assert_int_equal(dev.n_peers, 0); /* nothing half-parsed is handed back */
}

static void test_uapi_parse_errors(void **state)
{
	(void)state;
	/* wireguard-go answers negative errno, boringtun positive: both fail */
	expect_fail("errno=-22\n\n", "Invalid argument");
	expect_fail("errno=22\n\n", "Invalid argument");
	expect_fail("listen_port=1", "not terminated");
	expect_fail("listen_port=1\n", "truncated");
	expect_fail("listen_port=1\n\n", "truncated");
	expect_fail("listen_port=1\ngarbage\nerrno=0\n\n", "no key=value");
	expect_fail("=1\nerrno=0\n\n", "no key=value");
	expect_fail("listen_port=70000\nerrno=0\n\n", "bad value for listen_port");
	expect_fail("listen_port=12x\nerrno=0\n\n", "bad value for listen_port");
	expect_fail("private_key=zz\nerrno=0\n\n", "bad value for private_key");
	expect_fail("allowed_ip=10.0.0.0/8\nerrno=0\n\n", "bad value for allowed_ip");
	expect_fail("public_key=404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\n"
		    "endpoint=nohost\nerrno=0\n\n",
		    "bad value for endpoint");
	expect_fail("public_key=404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\n"
		    "allowed_ip=10.0.0.0/33\nerrno=0\n\n",
		    "bad value for allowed_ip");
	expect_fail("errno=abc\n\n", "bad value for errno");
}

static void test_mode_parse(void **state)
{
	(void)state;
	enum wg_mode m;
	assert_int_equal(wg_mode_parse("userspace", &m), 0);
	assert_int_equal(m, WG_MODE_USERSPACE);
	assert_string_equal(wg_mode_name(m), "userspace");
	assert_int_equal(wg_mode_parse("bogus", &m), -1);
	struct wg_ctx *ctx = wg_ctx_new(WG_MODE_AUTO);
	assert_non_null(ctx);
	char path[128];
	assert_true(wg_uapi_sock_path(ctx, "mg0", path, sizeof(path)));
	assert_string_equal(path, "/var/run/wireguard/mg0.sock");
	assert_null(wg_backend_name(ctx)); /* not attached */
	assert_false(wg_created(ctx));
	assert_false(wg_reap_child(ctx, 1));
	assert_int_equal(wg_ctx_set_sock_dir(ctx, "/run/x"), 0);
	assert_true(wg_uapi_sock_path(ctx, "mg0", path, sizeof(path)));
	assert_string_equal(path, "/run/x/mg0.sock");
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(wg_ctx_set_userspace_bin(ctx, big), -1);
	assert_int_equal(wg_ctx_set_sock_dir(ctx, ""), -1);
	wg_ctx_free(ctx);
}

/* A socket nobody listens on (its daemon was killed) is dead and removed; a live one stays. */
static void test_uapi_stale_socket(void **state)
{
	(void)state;
	char dir[] = "/tmp/mg-test-wg.XXXXXX", path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct wg_ctx *ctx = wg_ctx_new(WG_MODE_USERSPACE);
	mg_err e = {""};

	assert_non_null(mkdtemp(dir));
	assert_non_null(ctx);
	assert_int_equal(wg_ctx_set_sock_dir(ctx, dir), 0);
	assert_int_equal(wg_uapi_sock_state(ctx, "mgt0"), WG_SOCK_NONE);
	assert_int_equal(wg_uapi_reap_stale(ctx, "mgt0", &e), 0);

	/* bound, then closed without unlink: what kill -9 leaves */
	snprintf(path, sizeof(path), "%s/mgt0.sock", dir);
	memcpy(sun.sun_path, path, sizeof(sun.sun_path));
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_true(wg_uapi_sock_exists(ctx, "mgt0"));
	assert_int_equal(wg_uapi_sock_state(ctx, "mgt0"), WG_SOCK_DEAD);
	assert_int_equal(wg_uapi_reap_stale(ctx, "mgt0", &e), 1);
	assert_false(wg_uapi_sock_exists(ctx, "mgt0"));

	/* a listening daemon: alive, never removed */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(wg_uapi_sock_state(ctx, "mgt0"), WG_SOCK_LIVE);
	assert_int_equal(wg_uapi_reap_stale(ctx, "mgt0", &e), 0);
	assert_true(wg_uapi_sock_exists(ctx, "mgt0"));
	close(fd);
	unlink(path);
	rmdir(dir);
	wg_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nl_set_two_peers),  cmocka_unit_test(test_nl_set_split),
	    cmocka_unit_test(test_uapi_set_text),     cmocka_unit_test(test_uapi_parse_get),
	    cmocka_unit_test(test_uapi_parse_errors), cmocka_unit_test(test_mode_parse),
	    cmocka_unit_test(test_uapi_stale_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
