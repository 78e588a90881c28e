/* SPDX-License-Identifier: MIT */
/*
 * meshgate doctor, the data path: does the LAN route the mesh back to this connector
 * (an echo from our mesh address to the LAN's gateway comes back only if the gateway
 * routes the mesh here: option 1), or is NAT on (option 2); the largest packet that
 * crosses the tunnel to the hub (DF echoes of decreasing size); our MSS clamp rule.
 */
#include "doc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "nft.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t csum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/*
 * ICMP echoes of sizes[i] bytes (whole IP packets) from `src` (0: any) to `dst`, out `dev`
 * ("" any), all sent at once (largest first), then answers collected until every one
 * came or timeout_ms passed: answered[i]. With `df` the packets carry DF and are never
 * fragmented here. Returns how many were answered, or -1 with e set.
 */
static int echoes(const char *dev, uint32_t src, uint32_t dst, const int *sizes, size_t n, bool df,
		  long timeout_ms, bool *answered, mg_err *e)
{
	static uint16_t seq;
	uint16_t id = (uint16_t)(getpid() ^ 0x6d67), first = (uint16_t)(seq + 1);
	uint8_t pkt[9000], in[9100];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = dst};
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP), got = 0;
	int pmtu = df ? IP_PMTUDISC_PROBE : IP_PMTUDISC_DONT;

	if (fd < 0)
		return mg_err_set(e, "raw ICMP socket: %s (needs root)", strerror(errno));
	if (src) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = src};
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			got = mg_err_set(e, "bind to our mesh address: %s", strerror(errno));
			goto out;
		}
	}
	if ((dev[0] &&
	     setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)) < 0) ||
	    setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) < 0) {
		got = mg_err_set(e, "socket options on %s: %s", dev, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)sizes[i] - sizeof(struct iphdr);
		struct icmphdr *ic = (struct icmphdr *)pkt;
		answered[i] = false;
		if (sizes[i] < (int)sizeof(struct iphdr) + 8 || len > sizeof(pkt)) {
			got = mg_err_set(e, "bad probe size %d", sizes[i]);
			goto out;
		}
		memset(pkt, 0xa5, len);
		memset(ic, 0, sizeof(*ic));
		ic->type = ICMP_ECHO;
		ic->un.echo.id = htons(id);
		ic->un.echo.sequence = htons((uint16_t)(first + i));
		ic->checksum = csum(pkt, len);
		if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
		    errno != EMSGSIZE) { /* EMSGSIZE: bigger than the interface, never answered */
			got = mg_err_set(e, "send an echo to %s: %s", inet_ntoa(to.sin_addr),
					 strerror(errno));
			goto out;
		}
	}
	seq = (uint16_t)(first + n);
	for (long long end = now_ms() + timeout_ms; got < (int)n;) {
		long long left = end - now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left <= 0)
			break;
		int pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		ssize_t k = recv(fd, in, sizeof(in), 0);
		if (k < (ssize_t)sizeof(struct iphdr))
			continue;
		const struct iphdr *ip = (const struct iphdr *)in;
		size_t hl = (size_t)ip->ihl * 4;
		if (hl < sizeof(*ip) || (size_t)k < hl + sizeof(struct icmphdr) || ip->saddr != dst)
			continue;
		const struct icmphdr *rep = (const struct icmphdr *)(in + hl);
		uint16_t i = (uint16_t)(ntohs(rep->un.echo.sequence) - first);
		if (rep->type == ICMP_ECHOREPLY && rep->un.echo.id == htons(id) && i < n &&
		    !answered[i]) {
			answered[i] = true;
			got++;
		}
	}
out:
	close(fd);
	return got;
}

/* The IPv4 default gateway not via the tunnel, from /proc/net/route. */
static bool default_gw(const struct doc_ctx *c, uint32_t *gw, char *dev, size_t dlen)
{
	char *buf = NULL, *save = NULL, *line;
	size_t len = 0;
	bool found = false;

	if (fs_read_bounded("/proc/net/route", 1 << 20, &buf, &len, NULL) < 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char ifn[32];
		unsigned dst, g, flags, mask;
		if (sscanf(line, "%31s %x %x %x %*d %*d %*d %x", ifn, &dst, &g, &flags, &mask) != 5)
			continue;
		if (dst || mask || !(flags & 0x2) || !strcmp(ifn, c->ifname))
			continue;
		*gw = g; /* already in network order: the file prints the raw word */
		snprintf(dev, dlen, "%s", ifn);
		found = true;
	}
	free(buf);
	return found;
}

static void explain_options(struct doc_finding *f, const struct doc_ctx *c, const char *lanip)
{
	char mesh[CIDR_STRLEN];
	struct cidr m = c->cfg.tunnel.address;

	cidr_mask(&m);
	cidr_format(&m, mesh);
	doc_fix(f,
		"option 1 (a route back): on the LAN's router add a static route for the mesh, "
		"e.g. `ip route add %s via %s`; LAN hosts then see the real mesh addresses and "
		"can open connections to remote users themselves. Option 2 (NAT): turn NAT on for "
		"this network in the controller; the connector then masquerades mesh traffic to "
		"its own LAN address, which is enough as long as every session starts from the "
		"mesh side",
		mesh, lanip);
}

static void check_route_back(struct doc_ctx *c)
{
	uint32_t gw = 0, src;
	char dev[32], gws[INET_ADDRSTRLEN], lanip[48] = "THIS-HOST-LAN-ADDRESS";
	mg_err e = {""};
	struct doc_finding *f;

	if (c->cfg.tunnel.address.family != AF_INET) {
		doc_add(c->r, DOC_SKIP, "path", "route-back", "no IPv4 tunnel address");
		return;
	}
	memcpy(&src, c->cfg.tunnel.address.addr, 4);
	if (!default_gw(c, &gw, dev, sizeof(dev))) {
		f = doc_add(c->r, c->cfg.nat.enabled ? DOC_OK : DOC_WARN, "path", "route-back",
			    "no default gateway on the LAN to test the way back with; NAT is %s",
			    c->cfg.nat.enabled ? "on (option 2)" : "off");
		if (!c->cfg.nat.enabled) {
			doc_why(f,
				"with NAT off, LAN hosts answer mesh addresses through their own "
				"router: unless it routes the mesh to this connector, the answers "
				"are lost");
			explain_options(f, c, lanip);
		}
		return;
	}
	inet_ntop(AF_INET, &gw, gws, sizeof(gws));
	/* our address on that LAN, for the route to suggest */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		struct sockaddr_in to = {
		    .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = gw};
		struct sockaddr_in me;
		socklen_t ml = sizeof(me);
		if (connect(s, (struct sockaddr *)&to, sizeof(to)) == 0 &&
		    getsockname(s, (struct sockaddr *)&me, &ml) == 0)
			inet_ntop(AF_INET, &me.sin_addr, lanip, sizeof(lanip));
		close(s);
	}
	static const int small[] = {84};
	bool ans = false;
	int r = echoes(dev, src, gw, small, 1, false, c->o->timeout_ms, &ans, &e);
	if (r < 0) {
		doc_add(c->r, DOC_SKIP, "path", "route-back", "cannot test the way back: %s",
			e.msg);
		return;
	}
	if (r == 1) {
		doc_add(c->r, DOC_OK, "path", "route-back",
			"the LAN router %s routes the mesh back to this connector (option 1)%s",
			gws, c->cfg.nat.enabled ? "; NAT is on as well" : "");
		return;
	}
	if (c->cfg.nat.enabled) {
		doc_add(c->r, DOC_OK, "path", "route-back",
			"NAT is on (option 2): LAN hosts answer this connector's address %s; the "
			"router %s has no route back to the mesh, so LAN hosts cannot open "
			"connections to mesh addresses",
			lanip, gws);
		return;
	}
	f = doc_add(c->r, DOC_FAIL, "path", "route-back",
		    "NAT is off and the LAN router %s does not route the mesh back here (an echo "
		    "from our mesh address %s got no answer)",
		    gws, inet_ntoa((struct in_addr){src}));
	doc_why(f, "LAN hosts send their answers to mesh addresses to their router, which sends "
		   "them elsewhere (the internet): connections from the mesh open but never get a "
		   "reply");
	explain_options(f, c, lanip);
}

static int if_mtu(const char *ifn)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = -1;

	if (s < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifn);
	if (ioctl(s, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;
	close(s);
	return mtu;
}

static void check_mtu(struct doc_ctx *c)
{
	static const int sizes[] = {1500, 1420, 1400, 1380, 1360, 1340, 1280, 1200, 1000, 576};
	struct cidr hubnet = c->cfg.tunnel.address;
	uint32_t hub, src;
	int mtu = if_mtu(c->ifname), ok = 0, failed = 0;
	mg_err e = {""};
	struct doc_finding *f;

	if (mtu < 0 || c->cfg.tunnel.address.family != AF_INET) {
		doc_add(c->r, DOC_SKIP, "path", "mtu", "no tunnel %s to probe", c->ifname);
		return;
	}
	cidr_mask(&hubnet);
	memcpy(&hub, hubnet.addr, 4);
	hub = htonl(ntohl(hub) + 1); /* the hub: the first host of the mesh range */
	memcpy(&src, c->cfg.tunnel.address.addr, 4);
	int probe[16];
	bool ans[16];
	size_t n = 0;
	probe[n++] = mtu;
	for (size_t i = 0; i < MG_ARRAY_SIZE(sizes); i++)
		if (sizes[i] < mtu)
			probe[n++] = sizes[i];
	/* all at once, largest first; a second round when nothing came (a handshake may
	 * have been under way) */
	for (int round = 0; round < 2 && !ok; round++) {
		int r = echoes(c->ifname, src, hub, probe, n, true, c->o->timeout_ms, ans, &e);
		if (r < 0) {
			doc_add(c->r, DOC_SKIP, "path", "mtu", "path MTU not probed: %s", e.msg);
			return;
		}
		for (size_t i = 0; i < n && !ok; i++) {
			if (ans[i])
				ok = probe[i];
			else
				failed = probe[i];
		}
	}
	/* between the largest answered and the smallest lost: one more round, finer steps */
	if (ok && failed > ok + 4) {
		int step = (failed - ok) / 16 > 4 ? (failed - ok) / 16 : 4;
		n = 0;
		for (int sz = failed - step; sz > ok && n < MG_ARRAY_SIZE(probe); sz -= step)
			probe[n++] = sz;
		int r = echoes(c->ifname, src, hub, probe, n, true, c->o->timeout_ms, ans, &e);
		for (size_t i = 0; r > 0 && i < n; i++) {
			if (ans[i]) {
				ok = probe[i];
				break;
			}
			failed = probe[i];
		}
	}
	char hubs[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &hub, hubs, sizeof(hubs));
	if (ok == mtu) {
		doc_add(c->r, DOC_OK, "path", "mtu",
			"full-size packets (%d bytes, the tunnel MTU) reach the hub %s", mtu, hubs);
		return;
	}
	if (!ok) {
		f = doc_add(c->r, DOC_FAIL, "path", "mtu",
			    "the hub's tunnel address %s answers no echo of any size", hubs);
		doc_why(f, "nothing crosses the tunnel (see the handshake finding)");
		doc_fix(f, "fix the handshake first; if it is recent, a firewall on the hub "
			   "side may drop ICMP from the mesh");
		return;
	}
	f = doc_add(c->r, DOC_FAIL, "path", "mtu",
		    "packets of %d bytes cross the tunnel to the hub %s, %d bytes do not (tunnel "
		    "MTU %d)",
		    ok, hubs, failed, mtu);
	doc_why(f, "something between this host and the hub drops the larger WireGuard packets "
		   "(and no 'fragmentation needed' comes back): small requests work, then "
		   "downloads, TLS handshakes and file copies stall");
	doc_fix(f,
		"lower the tunnel MTU to what passes, e.g. `ip link set dev %s mtu %d` now and "
		"tunnel.mtu %d in the controller's config for this connector; keep MSS clamping on "
		"(TCP then fits); or find the hop that drops them",
		c->ifname, ok, ok);
}

static void check_mss(struct doc_ctx *c)
{
	struct nft_ctx *n = NULL;
	mg_err e = {""};
	int r;

	if (nft_open(&n, &e) < 0) {
		doc_add(c->r, DOC_SKIP, "path", "mss-clamp", "cannot read nftables: %s", e.msg);
		return;
	}
	int present = nft_table_present(n, &e);
	r = present > 0 ? nft_mss_clamp_present(n, &e) : present;
	nft_close(n);
	if (r < 0) {
		doc_add(c->r, DOC_SKIP, "path", "mss-clamp", "cannot read our table: %s", e.msg);
	} else if (!present) {
		doc_add(c->r, DOC_SKIP, "path", "mss-clamp", "no table inet meshgate to look in");
	} else if (r) {
		doc_add(c->r, DOC_OK, "path", "mss-clamp",
			"TCP MSS is clamped to the route's MTU on forwarded SYNs");
	} else {
		struct doc_finding *f = doc_add(c->r, DOC_WARN, "path", "mss-clamp",
						"no TCP MSS clamp rule in table inet meshgate");
		doc_why(f, "LAN hosts with a 1500-byte MTU announce an MSS the tunnel cannot "
			   "carry; where ICMP 'fragmentation needed' is filtered, their TCP "
			   "connections through the mesh stall on the first full-size segment");
		doc_fix(f, "run the agent without --no-mss-clamp");
		f->fixable = DOC_FIX_NFT;
	}
}

void doc_check_path(struct doc_ctx *c)
{
	if (!c->have_config) {
		doc_add(c->r, DOC_SKIP, "path", "route-back", "no config yet");
		return;
	}
	check_route_back(c);
	check_mtu(c);
	check_mss(c);
}
