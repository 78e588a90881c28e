/* SPDX-License-Identifier: MIT */
/*
 * mg_lpload: load generator for meshgate-controller-mock speaking the agent protocol
 * over TLS (tests and bench/ only).
 *
 *   mg_lpload enroll --addr IP --port P --ca cert.pem --admin-token T --network ID
 *                    --count N --out SECRETS [--parallel K]
 *     creates N connectors in network ID and enrols each (random keys): K clients (default
 *     1), each one request after the other over its keep-alive connections; writes one
 *     device secret a line. Prints {"enrolled":n,"parallel":k,"ms":t}.
 *
 *   mg_lpload hold --addr IP --port P --ca cert.pem --secrets FILE --conns N
 *                  [--wait S] [--sources A,B,...] [--timeout S]
 *                  [--admin-token T --change-path P --change-body JSON]
 *                  [--reconnect]
 *     opens N connections (poller i uses secret i mod lines), each asks its config once
 *     (learning its ETag) and then long-polls with If-None-Match. Once all N hold,
 *     another thread measures the admin API (GET /networks, 20 ms apart) and, a second
 *     in, sends the change (PATCH), until every poller was answered.
 *     --reconnect: pollers reconnect after any failure (the agent's backoff: doubling
 *     from 250 ms, capped at 2 s, jittered to [base/2, base]) and the run ends when every
 *     poller lost its connection once and holds again (a controller restart).
 *   Prints one JSON object: counts (held, refused, errors, statuses of the answers to
 *   the change), how long the change's own request took (change_req_ms), wake-up times from the
 * change to each answer (p50/p99/max ms), admin latency (p50/p99/max ms), and for --reconnect the
 * times from the first loss to each poller holding again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_MAX       16384
#define MAX_INFLIGHT 256 /* handshakes in flight at once */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mg_lpload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* --- options ---------------------------------------------------------------------- */

static struct {
	const char *addr, *ca, *admin_token, *network, *out, *secrets, *sources;
	const char *change_path, *change_body;
	int port, count, conns, wait, timeout, parallel;
	bool reconnect;
} opt = {.port = 8443, .wait = 55, .timeout = 120};

static SSL_CTX *ssl_ctx;
static struct sockaddr_in *srcs;
static size_t n_srcs;

static void parse_sources(void)
{
	char *s, *save = NULL, *t;

	if (!opt.sources)
		return;
	s = strdup(opt.sources);
	if (!s)
		die("%s", "out of memory");
	for (t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		srcs = realloc(srcs, (n_srcs + 1) * sizeof(*srcs));
		if (!srcs)
			die("%s", "out of memory");
		memset(&srcs[n_srcs], 0, sizeof(*srcs));
		srcs[n_srcs].sin_family = AF_INET;
		if (inet_pton(AF_INET, t, &srcs[n_srcs].sin_addr) != 1)
			die("bad source address %s", t);
		n_srcs++;
	}
	free(s);
}

static int tcp_socket(size_t i, bool nonblock)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	int one = 1,
	    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (n_srcs && bind(fd, (struct sockaddr *)&srcs[i % n_srcs], sizeof(srcs[0])) < 0) {
		close(fd);
		return -1;
	}
	inet_pton(AF_INET, opt.addr, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* --- a response ------------------------------------------------------------------ */

struct resp {
	int status;
	char etag[32];
	size_t hdr_len, body_len;
	bool close;
};

/* 1: complete, 0: more needed, -1: malformed. */
static int parse_resp(const char *in, size_t len, struct resp *r)
{
	const char *end = memmem(in, len, "\r\n\r\n", 4), *p;

	if (!end)
		return len >= IN_MAX ? -1 : 0;
	memset(r, 0, sizeof(*r));
	if (len < 12 || strncmp(in, "HTTP/1.", 7))
		return -1;
	r->status = atoi(in + 9);
	r->hdr_len = (size_t)(end - in) + 4;
	for (p = in; p && p < end; p = memmem(p, (size_t)(end - p), "\r\n", 2)) {
		if (p != in)
			p += 2;
		if (!strncasecmp(p, "Content-Length:", 15))
			r->body_len = strtoul(p + 15, NULL, 10);
		else if (!strncasecmp(p, "ETag:", 5)) {
			const char *v = p + 5;
			size_t k = 0;
			while (*v == ' ')
				v++;
			while (k + 1 < sizeof(r->etag) && v[k] != '\r')
				r->etag[k] = v[k], k++;
			r->etag[k] = '\0';
		} else if (!strncasecmp(p, "Connection: close", 17))
			r->close = true;
		if (p == in)
			p += 2;
	}
	if (r->hdr_len + r->body_len > IN_MAX)
		return -1;
	return len >= r->hdr_len + r->body_len ? 1 : 0;
}

/* --- blocking client (enrolment, admin thread) ------------------------------------ */

struct bconn {
	int fd;
	SSL *ssl;
};

static int bconn_open(struct bconn *b)
{
	b->fd = tcp_socket(0, false);
	if (b->fd < 0)
		return -1;
	b->ssl = SSL_new(ssl_ctx);
	if (!b->ssl || SSL_set_fd(b->ssl, b->fd) != 1 || SSL_connect(b->ssl) != 1) {
		SSL_free(b->ssl);
		close(b->fd);
		b->ssl = NULL;
		return -1;
	}
	return 0;
}

static void bconn_close(struct bconn *b)
{
	if (b->ssl) {
		SSL_free(b->ssl);
		close(b->fd);
	}
	b->ssl = NULL;
}

/* One request; reopens the connection when needed. Returns the status or -1. */
static int bconn_req(struct bconn *b, const char *method, const char *path, const char *auth,
		     const char *body, char *out, size_t outlen)
{
	char req[4096], in[IN_MAX];
	size_t len = 0;
	struct resp r;
	int n;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!b->ssl && bconn_open(b) < 0)
			return -1;
		n = snprintf(req, sizeof(req),
			     "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     method, path, opt.addr, auth ? auth : "-", body ? strlen(body) : 0,
			     body ? body : "");
		if (n <= 0 || (size_t)n >= sizeof(req) || SSL_write(b->ssl, req, n) != n) {
			bconn_close(b);
			continue;
		}
		len = 0;
		for (;;) {
			int k = SSL_read(b->ssl, in + len, (int)(sizeof(in) - 1 - len));
			int pr;
			if (k <= 0)
				break;
			len += (size_t)k;
			pr = parse_resp(in, len, &r);
			if (pr < 0)
				break;
			if (pr == 1) {
				size_t bl = r.body_len < outlen - 1 ? r.body_len : outlen - 1;
				if (out) {
					memcpy(out, in + r.hdr_len, bl);
					out[bl] = '\0';
				}
				if (r.close)
					bconn_close(b);
				return r.status;
			}
		}
		bconn_close(b);
		if (len)
			return -1; /* an answer was cut: do not send it twice */
	}
	return -1;
}

static const char *json_str(const char *body, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p;
	size_t k = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(body, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (p[k] && p[k] != '"' && k + 1 < len) {
		out[k] = p[k];
		k++;
	}
	out[k] = '\0';
	return out;
}

struct enroll_job {
	int from, to;
	char **secrets;
	const char *err;
};

static void *enroll_range(void *arg)
{
	struct enroll_job *j = arg;
	struct bconn adm = {0}, dev = {0};
	char path[256], body[1024], tok[256], secret[128], b64[64], req[1024], name[64];
	unsigned char key[32];

	snprintf(path, sizeof(path), "/api/v1/networks/%s/connectors", opt.network);
	for (int i = j->from; i < j->to; i++) {
		snprintf(name, sizeof(name), "{\"name\":\"load-%d\"}", i);
		if (bconn_req(&adm, "POST", path, opt.admin_token, name, body, sizeof(body)) !=
			201 ||
		    !json_str(body, "token", tok, sizeof(tok))) {
			j->err = "creating a connector failed";
			break;
		}
		if (RAND_bytes(key, sizeof(key)) != 1) {
			j->err = "no random bytes";
			break;
		}
		EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
		snprintf(req, sizeof(req),
			 "{\"token\":\"%s\",\"public_key\":\"%s\",\"hostname\":\"load-%d\","
			 "\"agent_version\":\"load\"}",
			 tok, b64, i);
		if (bconn_req(&dev, "POST", "/api/v1/enroll", NULL, req, body, sizeof(body)) !=
			201 ||
		    !json_str(body, "device_secret", secret, sizeof(secret))) {
			j->err = "enrolment failed";
			break;
		}
		j->secrets[i] = strdup(secret);
		if (!j->secrets[i]) {
			j->err = "out of memory";
			break;
		}
	}
	bconn_close(&adm);
	bconn_close(&dev);
	return NULL;
}

/* --parallel K clients, each enrolling its share one after the other. */
static int cmd_enroll(void)
{
	int k = opt.parallel > 0 ? opt.parallel : 1;
	struct enroll_job *jobs = calloc((size_t)k, sizeof(*jobs));
	pthread_t *th = calloc((size_t)k, sizeof(*th));
	char **secrets = calloc((size_t)opt.count, sizeof(*secrets));
	int64_t t0 = mono_ms();
	FILE *f;
	int ok = 0;

	if (!jobs || !th || !secrets)
		die("%s", "out of memory");
	for (int i = 0; i < k; i++) {
		jobs[i].from = (int)((long)opt.count * i / k);
		jobs[i].to = (int)((long)opt.count * (i + 1) / k);
		jobs[i].secrets = secrets;
		if (pthread_create(&th[i], NULL, enroll_range, &jobs[i]) != 0)
			die("%s", "pthread_create failed");
	}
	for (int i = 0; i < k; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].err)
			die("%s", jobs[i].err);
	}
	f = fopen(opt.out, "w");
	if (!f)
		die("cannot write %s", opt.out);
	for (int i = 0; i < opt.count; i++)
		if (secrets[i]) {
			fprintf(f, "%s\n", secrets[i]);
			ok++;
		}
	if (fclose(f) != 0)
		die("cannot write %s", opt.out);
	printf("{\"enrolled\":%d,\"parallel\":%d,\"ms\":%lld}\n", ok, k,
	       (long long)(mono_ms() - t0));
	for (int i = 0; i < opt.count; i++)
		free(secrets[i]);
	free(secrets);
	free(jobs);
	free(th);
	return 0;
}

/* --- the pollers ------------------------------------------------------------------ */

enum cstate { C_IDLE, C_CONNECT, C_HANDSHAKE, C_WRITE, C_READ, C_DONE };

struct conn {
	int fd;
	SSL *ssl;
	enum cstate st;
	int phase; /* 0: ask the config, 1: long-poll */
	const char *secret;
	char etag[32];
	char out[1024];
	size_t out_len, out_off;
	char in[IN_MAX];
	size_t in_len;
	int64_t retry_at; /* C_IDLE: when to connect */
	unsigned fails;
	int64_t lost_at;  /* --reconnect: when it lost its connection first (0: never) */
	int64_t back_ms;  /* and how long it took to hold again (-1: not yet) */
	int64_t answered; /* the change's answer (monotonic ms), 0: none */
	int status;
};

static struct conn *cs;
static int ep = -1;
static size_t n_inflight, n_holding;
static atomic_llong change_at; /* monotonic ms when the change was sent; 0: not yet */
static atomic_int change_status;
static atomic_llong change_req_ms; /* how long the change's own request took */
static atomic_bool all_done, all_held;
static int64_t *admin_lat;
static atomic_size_t n_admin;
#define ADMIN_MAX 100000
static size_t n_refused, n_errors;

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int64_t backoff(struct conn *c)
{
	int64_t base = 250;
	uint32_t r = 0;

	for (unsigned i = 1; i < c->fails && base < 2000; i++)
		base *= 2;
	if (base > 2000)
		base = 2000;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return base / 2 + r % (base / 2 + 1);
}

static void fail(struct conn *c, bool refused)
{
	bool was_holding = c->phase == 1 && c->st == C_READ;

	if (c->st == C_CONNECT || c->st == C_HANDSHAKE)
		n_inflight--;
	if (was_holding)
		n_holding--;
	conn_close(c);
	if (refused)
		n_refused++;
	else
		n_errors++;
	if (!opt.reconnect) {
		c->st = C_DONE;
		c->status = refused ? -2 : -1;
		return;
	}
	if (!c->lost_at)
		c->lost_at = mono_ms();
	c->back_ms = -1;
	c->fails++;
	c->phase = 0;
	c->st = C_IDLE;
	c->retry_at = mono_ms() + backoff(c);
}

static void set_request(struct conn *c)
{
	int n;

	if (c->phase == 0)
		n = snprintf(c->out, sizeof(c->out),
			     "GET /api/v1/device/config HTTP/1.1\r\nHost: %s\r\n"
			     "Authorization: Bearer %s\r\n\r\n",
			     opt.addr, c->secret);
	else
		n = snprintf(c->out, sizeof(c->out),
			     "GET /api/v1/device/config?wait=%d HTTP/1.1\r\nHost: %s\r\n"
			     "Authorization: Bearer %s\r\nIf-None-Match: %s\r\n\r\n",
			     opt.wait, opt.addr, c->secret, c->etag);
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->in_len = 0;
	c->st = C_WRITE;
}

static void want(struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void start(struct conn *c, size_t i)
{
	struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};

	c->fd = tcp_socket(i, true);
	if (c->fd < 0) {
		c->st = C_CONNECT;
		n_inflight++;
		fail(c, true);
		return;
	}
	c->st = C_CONNECT;
	n_inflight++;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0)
		fail(c, false);
}

static void step(struct conn *c);

static void on_answer(struct conn *c, const struct resp *r)
{
	int64_t now = mono_ms();

	if (c->phase == 0) {
		if (r->status != 200) {
			if (r->status == 503) {
				fail(c, true);
				return;
			}
			fprintf(stderr, "mg_lpload: config answered %d\n", r->status);
			fail(c, false);
			return;
		}
		snprintf(c->etag, sizeof(c->etag), "%s", r->etag);
		c->phase = 1;
		c->fails = 0;
		if (c->lost_at && c->back_ms < 0)
			c->back_ms = now - c->lost_at;
		n_holding++;
		set_request(c);
		step(c);
		return;
	}
	/* phase 1: a long-poll answered */
	n_holding--;
	if (atomic_load(&change_at) && !c->answered) {
		c->answered = now;
		c->status = r->status;
	}
	if (!opt.reconnect && c->answered) {
		conn_close(c);
		c->st = C_DONE;
		return;
	}
	if (r->status == 200)
		snprintf(c->etag, sizeof(c->etag), "%s", r->etag);
	n_holding++;
	set_request(c);
	step(c);
}

static void step(struct conn *c)
{
	for (;;) {
		int k;
		switch (c->st) {
		case C_CONNECT: {
			int err = 0;
			socklen_t l = sizeof(err);
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
				fail(c, true);
				return;
			}
			c->ssl = SSL_new(ssl_ctx);
			if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
				fail(c, false);
				return;
			}
			SSL_set_connect_state(c->ssl);
			c->st = C_HANDSHAKE;
			break;
		}
		case C_HANDSHAKE:
			k = SSL_do_handshake(c->ssl);
			if (k == 1) {
				n_inflight--;
				c->phase = 0;
				set_request(c);
				break;
			}
			k = SSL_get_error(c->ssl, k);
			if (k == SSL_ERROR_WANT_READ)
				return want(c, EPOLLIN);
			if (k == SSL_ERROR_WANT_WRITE)
				return want(c, EPOLLOUT);
			fail(c, true);
			return;
		case C_WRITE:
			k = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
			if (k > 0) {
				c->out_off += (size_t)k;
				if (c->out_off == c->out_len) {
					c->st = C_READ;
					want(c, EPOLLIN);
				}
				break;
			}
			k = SSL_get_error(c->ssl, k);
			if (k == SSL_ERROR_WANT_READ)
				return want(c, EPOLLIN);
			if (k == SSL_ERROR_WANT_WRITE)
				return want(c, EPOLLOUT);
			fail(c, false);
			return;
		case C_READ: {
			struct resp r;
			int pr;
			k = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof(c->in) - c->in_len));
			if (k <= 0) {
				k = SSL_get_error(c->ssl, k);
				if (k == SSL_ERROR_WANT_READ)
					return;
				if (k == SSL_ERROR_WANT_WRITE)
					return want(c, EPOLLOUT);
				fail(c, false);
				return;
			}
			c->in_len += (size_t)k;
			pr = parse_resp(c->in, c->in_len, &r);
			if (pr < 0) {
				fail(c, false);
				return;
			}
			if (pr == 1) {
				on_answer(c, &r);
				return;
			}
			break;
		}
		default:
			return;
		}
	}
}

/* From the moment all pollers hold: the admin API's latency, back to back (GET
 * /networks, 20 ms apart), and the change one second in. */
static void *admin_thread(void *arg)
{
	struct bconn b = {0};
	char body[IN_MAX];
	int64_t t0;
	bool changed = false;

	(void)arg;
	while (!atomic_load(&all_held) && !atomic_load(&all_done))
		usleep(10000);
	t0 = mono_ms();
	while (!atomic_load(&all_done)) {
		int64_t t = mono_ms();
		size_t i;
		if (!changed && t - t0 >= 1000) {
			changed = true;
			atomic_store(&change_at, t);
			atomic_store(&change_status,
				     bconn_req(&b, "PATCH", opt.change_path, opt.admin_token,
					       opt.change_body, body, sizeof(body)));
			atomic_store(&change_req_ms, mono_ms() - t);
			continue;
		}
		if (bconn_req(&b, "GET", "/api/v1/networks", opt.admin_token, NULL, body,
			      sizeof(body)) != 200)
			continue;
		i = atomic_fetch_add(&n_admin, 1);
		if (i < ADMIN_MAX)
			admin_lat[i] = mono_ms() - t;
		usleep(20000);
	}
	bconn_close(&b);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void print_dist(const char *name, int64_t *v, size_t n)
{
	if (!n) {
		printf("\"%s\":{\"n\":0}", name);
		return;
	}
	qsort(v, n, sizeof(*v), cmp64);
	printf("\"%s\":{\"n\":%zu,\"p50\":%lld,\"p99\":%lld,\"max\":%lld}", name, n,
	       (long long)v[n / 2], (long long)v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1],
	       (long long)v[n - 1]);
}

static char **load_secrets(size_t *n)
{
	FILE *f = fopen(opt.secrets, "r");
	char line[256], **v = NULL;

	*n = 0;
	if (!f)
		die("cannot read %s", opt.secrets);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line)
			continue;
		v = realloc(v, (*n + 1) * sizeof(*v));
		if (!v || !(v[*n] = strdup(line)))
			die("%s", "out of memory");
		(*n)++;
	}
	fclose(f);
	if (!*n)
		die("no secrets in %s", opt.secrets);
	return v;
}

static int cmd_hold(void)
{
	size_t n_sec, next = 0, N = (size_t)opt.conns;
	char **sec = load_secrets(&n_sec);
	struct epoll_event evs[256];
	pthread_t th;
	int64_t t0 = mono_ms(), deadline = t0 + (int64_t)opt.timeout * 1000, held_at = 0;
	int64_t *wake, *back;
	size_t n_wake = 0, n_back = 0, answered = 0, st200 = 0, st304 = 0, stother = 0;
	bool changed = false, restart_seen = false;

	cs = calloc(N, sizeof(*cs));
	admin_lat = calloc(ADMIN_MAX, sizeof(*admin_lat));
	wake = calloc(N, sizeof(*wake));
	back = calloc(N, sizeof(*back));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cs || !admin_lat || !wake || !back || ep < 0)
		die("%s", "out of memory");
	for (size_t i = 0; i < N; i++) {
		cs[i].fd = -1;
		cs[i].secret = sec[i % n_sec];
		cs[i].back_ms = -1;
	}
	if (opt.change_path && pthread_create(&th, NULL, admin_thread, NULL) != 0)
		die("%s", "pthread_create failed");
	while (mono_ms() < deadline) {
		int64_t now = mono_ms();
		int n;

		while (next < N && n_inflight < MAX_INFLIGHT)
			start(&cs[next], next), next++;
		if (opt.reconnect)
			for (size_t i = 0; i < next; i++)
				if (cs[i].st == C_IDLE && cs[i].retry_at <= now &&
				    n_inflight < MAX_INFLIGHT)
					start(&cs[i], i);
		n = epoll_wait(ep, evs, 256, 20);
		for (int k = 0; k < n; k++)
			step(evs[k].data.ptr);
		now = mono_ms();
		if (!held_at && next == N && n_holding == N)
			held_at = now;
		if (!opt.reconnect && next == N && n_inflight == 0) {
			size_t live = 0;
			for (size_t i = 0; i < N; i++)
				live += cs[i].st != C_DONE;
			if (!live)
				break; /* everything answered or failed */
		}
		if (held_at)
			atomic_store(&all_held, true);
		changed = atomic_load(&change_at) != 0;
		if (opt.reconnect && held_at) {
			size_t lost = 0, back_n = 0;
			for (size_t i = 0; i < N; i++) {
				lost += cs[i].lost_at != 0;
				back_n += cs[i].back_ms >= 0;
			}
			if (lost && !restart_seen) {
				restart_seen = true;
				fprintf(stderr, "mg_lpload: connections lost, reconnecting\n");
			}
			if (lost == N && back_n == N)
				break;
		}
		if (changed && !opt.reconnect) {
			size_t done = 0;
			for (size_t i = 0; i < N; i++)
				done += cs[i].answered || cs[i].st == C_DONE;
			if (done == N)
				break;
		}
	}
	atomic_store(&all_done, true);
	if (opt.change_path)
		pthread_join(th, NULL);
	for (size_t i = 0; i < N; i++) {
		if (cs[i].answered) {
			answered++;
			wake[n_wake++] = cs[i].answered - atomic_load(&change_at);
			if (cs[i].status == 200)
				st200++;
			else if (cs[i].status == 304)
				st304++;
			else
				stother++;
		}
		if (cs[i].back_ms >= 0)
			back[n_back++] = cs[i].back_ms;
	}
	printf("{\"conns\":%zu,\"held\":%s,\"held_ms\":%lld,\"refused\":%zu,\"errors\":%zu,"
	       "\"change_status\":%d,\"change_req_ms\":%lld,\"answered\":%zu,"
	       "\"statuses\":{\"200\":%zu,\"304\":%zu,\"other\":%zu},",
	       N, held_at ? "true" : "false", (long long)(held_at ? held_at - t0 : -1), n_refused,
	       n_errors, atomic_load(&change_status), (long long)atomic_load(&change_req_ms),
	       answered, st200, st304, stother);
	print_dist("wake_ms", wake, n_wake);
	printf(",");
	print_dist("admin_ms", admin_lat,
		   atomic_load(&n_admin) < ADMIN_MAX ? atomic_load(&n_admin) : ADMIN_MAX);
	printf(",");
	print_dist("back_ms", back, n_back);
	printf("}\n");
	for (size_t i = 0; i < N; i++)
		conn_close(&cs[i]);
	for (size_t i = 0; i < n_sec; i++)
		free(sec[i]);
	free(sec);
	free(cs);
	free(admin_lat);
	free(wake);
	free(back);
	close(ep);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	const char *cmd = "";
	int rc = -1;

	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(k, "enroll") || !strcmp(k, "hold")) {
			cmd = k;
			continue;
		}
		if (!strcmp(k, "--reconnect")) {
			opt.reconnect = true;
			continue;
		}
		if (!v)
			die("%s needs a value", k);
		i++;
		if (!strcmp(k, "--addr"))
			opt.addr = v;
		else if (!strcmp(k, "--port"))
			opt.port = atoi(v);
		else if (!strcmp(k, "--ca"))
			opt.ca = v;
		else if (!strcmp(k, "--admin-token"))
			opt.admin_token = v;
		else if (!strcmp(k, "--network"))
			opt.network = v;
		else if (!strcmp(k, "--parallel"))
			opt.parallel = atoi(v);
		else if (!strcmp(k, "--count"))
			opt.count = atoi(v);
		else if (!strcmp(k, "--out"))
			opt.out = v;
		else if (!strcmp(k, "--secrets"))
			opt.secrets = v;
		else if (!strcmp(k, "--conns"))
			opt.conns = atoi(v);
		else if (!strcmp(k, "--wait"))
			opt.wait = atoi(v);
		else if (!strcmp(k, "--timeout"))
			opt.timeout = atoi(v);
		else if (!strcmp(k, "--sources"))
			opt.sources = v;
		else if (!strcmp(k, "--change-path"))
			opt.change_path = v;
		else if (!strcmp(k, "--change-body"))
			opt.change_body = v;
		else
			die("unknown option %s", k);
	}
	if (!opt.addr || !opt.ca)
		die("%s", "--addr and --ca are required");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	parse_sources();
	ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!ssl_ctx || SSL_CTX_load_verify_locations(ssl_ctx, opt.ca, NULL) != 1)
		die("cannot load %s", opt.ca);
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
	if (!strcmp(cmd, "enroll") && opt.admin_token && opt.network && opt.out && opt.count > 0)
		rc = cmd_enroll();
	else if (!strcmp(cmd, "hold") && opt.secrets && opt.conns > 0)
		rc = cmd_hold();
	if (rc >= 0) {
		SSL_CTX_free(ssl_ctx);
		free(srcs);
		return rc;
	}
	die("%s", "usage: mg_lpload enroll|hold ... (see the comment at the top of mg_lpload.c)");
	return 2;
}
