/* SPDX-License-Identifier: MIT */
/* Userspace WireGuard: the UAPI text protocol on <sock_dir>/<ifname>.sock. */
#include "wg_uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rtnl.h"

extern char **environ;

#define UAPI_MAX_REPLY  (16u << 20)
#define UAPI_TIMEOUT_MS 5000

/* ---- the socket ---- */

bool wg_uapi_sock_path(const struct wg_ctx *ctx, const char *ifname, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s.sock", wg_ctx_sock_dir(ctx), ifname);
	return n > 0 && (size_t)n < outlen;
}

bool wg_uapi_sock_exists(const struct wg_ctx *ctx, const char *ifname)
{
	char path[128];
	struct stat st;
	if (!wg_uapi_sock_path(ctx, ifname, path, sizeof(path)))
		return false;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* ---- a growable text buffer that never leaves key material behind ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_reserve(struct sbuf *b, size_t more)
{
	if (b->oom || b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = malloc(cap);
	if (!p) {
		b->oom = true;
		return;
	}
	if (b->p) {
		memcpy(p, b->p, b->len);
		wgkey_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
}

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = true; /* no line we write is that long */
	} else {
		sb_reserve(b, (size_t)n);
		if (!b->oom) {
			memcpy(b->p + b->len, tmp, (size_t)n + 1);
			b->len += (size_t)n;
		}
	}
	wgkey_wipe(tmp, sizeof(tmp));
}

static void sb_free(struct sbuf *b)
{
	if (b->p) {
		wgkey_wipe(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

void wg_text_free(char *text, size_t len)
{
	if (!text)
		return;
	wgkey_wipe(text, len);
	free(text);
}

static void format_endpoint(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN] = "";
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(out, outlen, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, outlen, "%s:%u", a, ntohs(s4->sin_port));
	}
}

int wg_uapi_set_text(const struct wg_device *dev, char **out, size_t *len, mg_err *e)
{
	struct sbuf b = {0};
	char hex[WG_KEY_HEX_LEN];
	*out = NULL;
	*len = 0;
	sb_add(&b, "set=1\n");
	if (dev->has_private_key) {
		wgkey_to_hex(dev->private_key, hex);
		sb_add(&b, "private_key=%s\n", hex);
		wgkey_wipe(hex, sizeof(hex));
	}
	if (dev->listen_port)
		sb_add(&b, "listen_port=%u\n", dev->listen_port);
	if (dev->has_fwmark)
		sb_add(&b, "fwmark=%" PRIu32 "\n", dev->fwmark);
	if (dev->replace_peers)
		sb_add(&b, "replace_peers=true\n");
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *p = &dev->peers[i];
		wgkey_to_hex(p->public_key, hex);
		sb_add(&b, "public_key=%s\n", hex);
		if (p->remove) {
			sb_add(&b, "remove=true\n");
			continue;
		}
		if (p->has_endpoint) {
			char ep[INET6_ADDRSTRLEN + 16];
			if (p->endpoint.ss_family != AF_INET && p->endpoint.ss_family != AF_INET6) {
				sb_free(&b);
				return mg_err_set(e, "peer %s: endpoint is neither IPv4 nor IPv6",
						  hex);
			}
			format_endpoint(&p->endpoint, ep, sizeof(ep));
			sb_add(&b, "endpoint=%s\n", ep);
		}
		sb_add(&b, "persistent_keepalive_interval=%u\n", p->persistent_keepalive);
		if (p->replace_allowed_ips)
			sb_add(&b, "replace_allowed_ips=true\n");
		for (size_t k = 0; k < p->n_allowed_ips; k++) {
			char c[CIDR_STRLEN];
			sb_add(&b, "allowed_ip=%s\n", cidr_format(&p->allowed_ips[k], c));
		}
	}
	sb_add(&b, "\n");
	if (b.oom) {
		sb_free(&b);
		return mg_err_set(e, "WireGuard UAPI request: out of memory");
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- get reply parser ---- */

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_endpoint(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *colon = strrchr(s, ':');
	uint64_t port;
	if (!colon || parse_u64(colon + 1, 65535, &port) < 0)
		return -1;
	size_t hlen = (size_t)(colon - s);
	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = 0;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		if (hlen < 2 || host[hlen - 1] != ']')
			return -1;
		host[hlen - 1] = 0;
		char *zone = strchr(host, '%');
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (zone) {
			*zone = 0;
			s6->sin6_scope_id = if_nametoindex(zone + 1);
		}
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

static int parse_line(const char *key, const char *val, struct wg_device *dev,
		      struct wg_peer **peer, bool *have_errno, long *errnum)
{
	uint64_t v;
	if (!strcmp(key, "errno")) {
		const char *d = val[0] == '-' ? val + 1 : val;
		if (parse_u64(d, INT_MAX, &v) < 0)
			return -1;
		*errnum = val[0] == '-' ? -(long)v : (long)v;
		*have_errno = true;
		return 0;
	}
	if (!strcmp(key, "public_key")) {
		*peer = wg_device_add_peer(dev);
		if (!*peer)
			return -2;
		return wgkey_from_hex(val, (*peer)->public_key) < 0 ? -1 : 0;
	}
	if (!*peer) {
		if (!strcmp(key, "private_key")) {
			if (wgkey_from_hex(val, dev->private_key) < 0)
				return -1;
			dev->has_private_key = true;
		} else if (!strcmp(key, "listen_port")) {
			if (parse_u64(val, 65535, &v) < 0)
				return -1;
			dev->listen_port = (uint16_t)v;
		} else if (!strcmp(key, "fwmark")) {
			if (parse_u64(val, UINT32_MAX, &v) < 0)
				return -1;
			dev->fwmark = (uint32_t)v;
			dev->has_fwmark = true;
		} else if (!strcmp(key, "endpoint") || !strcmp(key, "allowed_ip") ||
			   !strcmp(key, "rx_bytes") || !strcmp(key, "tx_bytes") ||
			   !strncmp(key, "last_handshake_time", 19) ||
			   !strcmp(key, "persistent_keepalive_interval")) {
			return -1; /* a peer key before any public_key */
		}
		return 0; /* unknown device key: ignore (e.g. own_public_key) */
	}
	struct wg_peer *p = *peer;
	if (!strcmp(key, "endpoint")) {
		if (parse_endpoint(val, &p->endpoint) < 0)
			return -1;
		p->has_endpoint = true;
	} else if (!strcmp(key, "allowed_ip")) {
		struct cidr c;
		if (cidr_parse(val, &c, CIDR_ALLOW_HOST_BITS, NULL) < 0)
			return -1;
		cidr_mask(&c);
		if (wg_peer_add_allowed_ip(p, &c) < 0)
			return -2;
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		if (parse_u64(val, 65535, &v) < 0)
			return -1;
		p->persistent_keepalive = (uint16_t)v;
	} else if (!strcmp(key, "last_handshake_time_sec")) {
		if (parse_u64(val, INT64_MAX, &v) < 0)
			return -1;
		p->last_handshake_sec = (int64_t)v;
	} else if (!strcmp(key, "last_handshake_time_nsec")) {
		if (parse_u64(val, INT64_MAX, &v) < 0)
			return -1;
		p->last_handshake_nsec = (int64_t)v;
	} else if (!strcmp(key, "rx_bytes")) {
		if (parse_u64(val, UINT64_MAX, &v) < 0)
			return -1;
		p->rx_bytes = v;
	} else if (!strcmp(key, "tx_bytes")) {
		if (parse_u64(val, UINT64_MAX, &v) < 0)
			return -1;
		p->tx_bytes = v;
	}
	/* preshared_key, protocol_version and unknown keys: ignored */
	return 0;
}

int wg_uapi_parse_get(const char *text, size_t len, struct wg_device *dev, mg_err *e)
{
	char line[512];
	struct wg_peer *peer = NULL;
	bool have_errno = false, ended = false;
	long errnum = 0;
	size_t pos = 0, lineno = 0;
	int ret = 0;
	memset(dev, 0, sizeof(*dev));
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		if (!nl) {
			ret = mg_err_set(e, "WireGuard UAPI reply: line %zu not terminated",
					 lineno + 1);
			break;
		}
		size_t l = (size_t)(nl - (text + pos));
		lineno++;
		if (l == 0) {
			ended = true;
			break;
		}
		if (l >= sizeof(line) || memchr(text + pos, 0, l)) {
			ret = mg_err_set(e, "WireGuard UAPI reply: line %zu malformed", lineno);
			break;
		}
		memcpy(line, text + pos, l);
		line[l] = 0;
		pos += l + 1;
		char *eq = strchr(line, '=');
		if (!eq || eq == line) {
			ret = mg_err_set(e, "WireGuard UAPI reply: line %zu has no key=value",
					 lineno);
			break;
		}
		*eq = 0;
		int r = parse_line(line, eq + 1, dev, &peer, &have_errno, &errnum);
		if (r == -2) {
			ret = mg_err_set(e, "WireGuard UAPI reply: out of memory");
			break;
		}
		if (r < 0) {
			/* the value may be a key: name only the key */
			ret = mg_err_set(e, "WireGuard UAPI reply: line %zu: bad value for %s",
					 lineno, line);
			break;
		}
	}
	wgkey_wipe(line, sizeof(line));
	if (ret == 0 && (!ended || !have_errno))
		ret = mg_err_set(e, "WireGuard UAPI reply truncated (no errno line)");
	if (ret == 0 && errnum != 0) {
		int en = (int)(errnum < 0 ? -errnum : errnum);
		ret = mg_err_set(e, "WireGuard UAPI: errno=%ld (%s)", errnum, strerror(en));
	}
	if (ret < 0)
		wg_device_free(dev);
	return ret;
}

/* ---- socket I/O ---- */

static int uapi_call(struct wg_ctx *ctx, const char *ifname, const char *req, size_t reqlen,
		     char **reply, size_t *replylen, mg_err *e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	*reply = NULL;
	*replylen = 0;
	if (!wg_uapi_sock_path(ctx, ifname, sun.sun_path, sizeof(sun.sun_path)))
		return mg_err_set(e, "WireGuard socket path for %s too long", ifname);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mg_err_set(e, "unix socket: %s", strerror(errno));
	struct timeval tv = {.tv_sec = UAPI_TIMEOUT_MS / 1000};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		int err = errno;
		close(fd);
		return mg_err_set(e, "unix socket timeouts: %s", strerror(err));
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;
		close(fd);
		return mg_err_set(e, "connect to %s: %s", sun.sun_path, strerror(err));
	}
	for (size_t off = 0; off < reqlen;) {
		ssize_t n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			return mg_err_set(e, "write to %s: %s", sun.sun_path, strerror(err));
		}
		off += (size_t)n;
	}
	struct sbuf b = {0};
	int ret = 0;
	for (;;) {
		sb_reserve(&b, 4096);
		if (b.oom) {
			ret = mg_err_set(e, "read %s: out of memory", sun.sun_path);
			break;
		}
		ssize_t n = recv(fd, b.p + b.len, b.cap - b.len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = mg_err_set(e, "read %s: %s", sun.sun_path,
					 errno == EAGAIN ? "timed out" : strerror(errno));
			break;
		}
		b.len += (size_t)n;
		b.p[b.len] = 0;
		/* A reply ends with an empty line; the daemon keeps the connection open. */
		if (b.len >= 2 && !memcmp(b.p + b.len - 2, "\n\n", 2))
			break;
		if (n == 0) {
			ret = mg_err_set(e, "read %s: connection closed mid-reply", sun.sun_path);
			break;
		}
		if (b.len > UAPI_MAX_REPLY) {
			ret = mg_err_set(e, "read %s: reply over %u bytes", sun.sun_path,
					 UAPI_MAX_REPLY);
			break;
		}
	}
	close(fd);
	if (ret < 0) {
		sb_free(&b);
		return -1;
	}
	*reply = b.p;
	*replylen = b.len;
	return 0;
}

static int uapi_set_device(struct wg_ctx *ctx, const struct wg_device *dev, mg_err *e)
{
	char *req, *reply;
	size_t reqlen, replylen;
	if (wg_uapi_set_text(dev, &req, &reqlen, e) < 0)
		return -1;
	int ret = uapi_call(ctx, dev->ifname, req, reqlen, &reply, &replylen, e);
	wg_text_free(req, reqlen);
	if (ret < 0)
		return mg_err_prefix(e, "configure WireGuard %s", dev->ifname);
	/* The reply to set is "errno=N\n\n": parse it as an (empty) get reply. */
	struct wg_device tmp;
	ret = wg_uapi_parse_get(reply, replylen, &tmp, e);
	wg_device_free(&tmp);
	wg_text_free(reply, replylen);
	if (ret < 0)
		return mg_err_prefix(e, "configure WireGuard %s", dev->ifname);
	return 0;
}

static int uapi_get_device(struct wg_ctx *ctx, const char *ifname, struct wg_device *dev, mg_err *e)
{
	static const char req[] = "get=1\n\n";
	char *reply;
	size_t replylen;
	memset(dev, 0, sizeof(*dev));
	if (uapi_call(ctx, ifname, req, sizeof(req) - 1, &reply, &replylen, e) < 0)
		return mg_err_prefix(e, "read WireGuard %s", ifname);
	int ret = wg_uapi_parse_get(reply, replylen, dev, e);
	wg_text_free(reply, replylen);
	if (ret < 0)
		return mg_err_prefix(e, "read WireGuard %s", ifname);
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
	return 0;
}

/* ---- daemon lifecycle ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* connect() to the UAPI socket: 0 accepted, else the errno (ENOENT: no socket). */
static int uapi_sock_connect_err(const struct wg_ctx *ctx, const char *ifname)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, err = 0;

	if (!wg_uapi_sock_path(ctx, ifname, sun.sun_path, sizeof(sun.sun_path)))
		return ENAMETOOLONG;
	if (!wg_uapi_sock_exists(ctx, ifname))
		return ENOENT;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		err = errno;
	close(fd);
	return err;
}

/*
 * The socket file appears at bind(), a moment before the daemon listens: only a
 * connection that is accepted means the interface can be configured.
 */
static bool uapi_sock_answers(const struct wg_ctx *ctx, const char *ifname)
{
	return uapi_sock_connect_err(ctx, ifname) == 0;
}

enum wg_sock_state wg_uapi_sock_state(const struct wg_ctx *ctx, const char *ifname)
{
	int err = uapi_sock_connect_err(ctx, ifname);

	if (err == ENOENT || err == ENAMETOOLONG)
		return WG_SOCK_NONE;
	/* only a refusal proves nobody listens (EAGAIN: a full backlog, alive) */
	return err == ECONNREFUSED ? WG_SOCK_DEAD : WG_SOCK_LIVE;
}

int wg_uapi_reap_stale(const struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (wg_uapi_sock_state(ctx, ifname) != WG_SOCK_DEAD)
		return 0;
	/* a daemon between bind() and listen() refuses too: ask again a moment later */
	sleep_ms(100);
	if (wg_uapi_sock_state(ctx, ifname) != WG_SOCK_DEAD)
		return 0;
	if (!wg_uapi_sock_path(ctx, ifname, path, sizeof(path)))
		return 0;
	if (unlink(path) < 0 && errno != ENOENT)
		return mg_err_set(e, "remove dead WireGuard socket %s: %s", path, strerror(errno));
	log_warn("wireguard: removed %s: nobody answers on it (its daemon died)", path);
	return 1;
}

static int wait_bounded(pid_t pid, long ms, int *status)
{
	for (long waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited >= ms)
			return 0;
		sleep_ms(10);
	}
}

static void describe_status(int status, char *out, size_t outlen)
{
	if (WIFEXITED(status))
		snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, outlen, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, outlen, "stopped (status 0x%x)", status);
}

static char **build_env(void)
{
	static const char *const ours[] = {"WG_PROCESS_FOREGROUND=1",
					   "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1"};
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + MG_ARRAY_SIZE(ours) + 1, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strncmp(environ[i], "WG_PROCESS_FOREGROUND=", 22) ||
		    !strncmp(environ[i], "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=", 45))
			continue;
		env[k++] = environ[i];
	}
	for (size_t i = 0; i < MG_ARRAY_SIZE(ours); i++)
		env[k++] = (char *)ours[i];
	return env;
}

static int uapi_create(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	char path[128];
	if (!wg_uapi_sock_path(ctx, ifname, path, sizeof(path)))
		return mg_err_set(e, "WireGuard socket path for %s too long", ifname);
	char **env = build_env();
	if (!env)
		return mg_err_set(e, "start %s: out of memory", wg_ctx_userspace_bin(ctx));
	char ifarg[IF_NAMESIZE];
	snprintf(ifarg, sizeof(ifarg), "%s", ifname);
	char *argv[] = {(char *)wg_ctx_userspace_bin(ctx), "-f", ifarg, NULL};
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	sigaddset(&defaults, SIGCHLD);
	int err = posix_spawnattr_init(&attr);
	if (!err)
		err = posix_spawnattr_setflags(
		    &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
	if (!err)
		err = posix_spawnattr_setsigmask(&attr, &none);
	if (!err)
		err = posix_spawnattr_setsigdefault(&attr, &defaults);
	/*
	 * stdin from /dev/null; its stdout joins our stderr (the log stream), so it
	 * never holds a pipe our own caller reads our stdout from.
	 */
	posix_spawn_file_actions_t fa;
	int fa_err = posix_spawn_file_actions_init(&fa);
	if (!err)
		err = fa_err;
	if (!err)
		err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!err)
		err = posix_spawn_file_actions_adddup2(&fa, 2, 1);
	pid_t pid = 0;
	if (!err)
		err = posix_spawnp(&pid, wg_ctx_userspace_bin(ctx), &fa, &attr, argv, env);
	if (!fa_err)
		posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(env);
	if (err)
		return mg_err_set(e, "start %s for %s: %s", wg_ctx_userspace_bin(ctx), ifname,
				  strerror(err));
	/* Bounded wait for the UAPI socket; a daemon that dies early is reported. */
	for (long waited = 0; waited <= UAPI_TIMEOUT_MS; waited += 10) {
		if (uapi_sock_answers(ctx, ifname)) {
			*wg_ctx_child_pid(ctx) = pid;
			log_info("wireguard: %s serving %s (pid %d)", wg_ctx_userspace_bin(ctx),
				 ifname, (int)pid);
			return 0;
		}
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			char how[64];
			describe_status(status, how, sizeof(how));
			return mg_err_set(e, "%s for %s %s before creating %s",
					  wg_ctx_userspace_bin(ctx), ifname, how, path);
		}
		sleep_ms(10);
	}
	int status;
	kill(pid, SIGKILL);
	(void)wait_bounded(pid, 1000, &status);
	return mg_err_set(e, "%s for %s did not create %s within %d ms", wg_ctx_userspace_bin(ctx),
			  ifname, path, UAPI_TIMEOUT_MS);
}

static int uapi_destroy(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	if (*wg_ctx_child_pid(ctx) > 0) {
		pid_t pid = *wg_ctx_child_pid(ctx);
		int status;
		*wg_ctx_child_pid(ctx) = 0;
		if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
			return mg_err_set(e, "stop %s (pid %d): %s", wg_ctx_userspace_bin(ctx),
					  (int)pid, strerror(errno));
		int r = wait_bounded(pid, UAPI_TIMEOUT_MS, &status);
		if (r == 0) {
			log_warn("wireguard: pid %d ignored SIGTERM; killing it", (int)pid);
			kill(pid, SIGKILL);
			r = wait_bounded(pid, 1000, &status);
		}
		if (r < 0 && errno != ECHILD)
			return mg_err_set(e, "wait for pid %d: %s", (int)pid, strerror(errno));
		return 0;
	}
	/* Adopted daemon (not our child): deleting its TUN link makes it exit. */
	struct rtnl r;
	uint32_t idx;
	if (rtnl_open(&r, e) < 0)
		return -1;
	int ret = rtnl_link_index(&r, ifname, &idx, e);
	if (ret == 0)
		ret = rtnl_link_delete(&r, idx, e);
	else if (ret == RTNL_ENODEV)
		ret = 0;
	rtnl_close(&r);
	if (ret < 0)
		return -1;
	/* Bounded wait for the daemon to notice and remove its socket. */
	for (long waited = 0; waited < UAPI_TIMEOUT_MS && wg_uapi_sock_exists(ctx, ifname);
	     waited += 10)
		sleep_ms(10);
	if (wg_uapi_reap_stale(ctx, ifname, e) < 0)
		return -1;
	if (wg_uapi_sock_exists(ctx, ifname))
		log_warn("wireguard: %s deleted but its socket is still there", ifname);
	return 0;
}

/* An existing link is served by a daemon when its socket answers. */
static int uapi_probe(struct wg_ctx *ctx, const char *ifname, mg_err *e)
{
	if (wg_uapi_sock_state(ctx, ifname) == WG_SOCK_LIVE)
		return 0;
	errno = ENOENT;
	return mg_err_set(e, "no WireGuard daemon answers for %s", ifname);
}

const struct wg_backend_ops wg_uapi_ops = {
    .name = "userspace",
    .probe = uapi_probe,
    .create = uapi_create,
    .destroy = uapi_destroy,
    .set_device = uapi_set_device,
    .get_device = uapi_get_device,
};
