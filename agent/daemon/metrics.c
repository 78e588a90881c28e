/* SPDX-License-Identifier: MIT */
/* The daemon's metrics endpoint (metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "prom.h"

#define METRICS_MAX_BODY (4u << 20)

struct mclient {
	int fd; /* -1: free slot */
	uint64_t since;
	char in[METRICS_MAX_HEAD];
	size_t in_len;
	struct mg_buf out; /* the response being written */
	size_t out_off;
	bool answering;
};

struct metrics_srv {
	int lfd;
	char addr[64];
	metrics_render_fn render;
	void *ctx;
	struct mclient c[METRICS_MAX_CLIENTS];
	uint64_t n_200, n_400, n_404, n_405, n_431, n_500;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_listen(const char *s, char *host, size_t hl, char *port, size_t pl, mg_err *e)
{
	const char *c = strrchr(s, ':');

	if (!c || c == s || !c[1])
		return mg_err_set(e, "metrics address \"%s\" is not ADDRESS:PORT", s);
	if (s[0] == '[') {
		if (c[-1] != ']' || c - s - 2 <= 0)
			return mg_err_set(e, "metrics address \"%s\": [IPv6]:PORT", s);
		snprintf(host, hl, "%.*s", (int)(c - s - 2), s + 1);
	} else {
		snprintf(host, hl, "%.*s", (int)(c - s), s);
	}
	snprintf(port, pl, "%s", c + 1);
	return 0;
}

int metrics_open(struct metrics_srv **out, const char *listen_on, metrics_render_fn fn, void *ctx,
		 mg_err *e)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE},
			*res = NULL;
	char host[64], port[16];
	struct metrics_srv *m;
	int one = 1, r;

	*out = NULL;
	if (parse_listen(listen_on, host, sizeof(host), port, sizeof(port), e) < 0)
		return -1;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return mg_err_set(e, "metrics address \"%s\": %s (a numeric address and port)",
				  listen_on, gai_strerror(r));
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(res);
		return mg_err_set(e, "out of memory");
	}
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		m->c[i].fd = -1;
	snprintf(m->addr, sizeof(m->addr), "%s", listen_on);
	m->render = fn;
	m->ctx = ctx;
	m->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0) {
		mg_err_set(e, "metrics: socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(m->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(m->lfd, res->ai_addr, res->ai_addrlen) < 0 || listen(m->lfd, 16) < 0) {
		mg_err_set(e, "metrics: cannot listen on %s: %s", listen_on, strerror(errno));
		goto fail;
	}
	freeaddrinfo(res);
	*out = m;
	return 0;
fail:
	freeaddrinfo(res);
	metrics_close(m);
	return -1;
}

static void drop(struct mclient *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	mg_buf_free(&c->out);
	c->in_len = 0;
	c->out_off = 0;
	c->answering = false;
}

void metrics_close(struct metrics_srv *m)
{
	if (!m)
		return;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		drop(&m->c[i]);
	if (m->lfd >= 0)
		close(m->lfd);
	free(m);
}

unsigned metrics_poll_fds(const struct metrics_srv *m, struct curl_waitfd *fds, unsigned max)
{
	unsigned n = 0;

	if (!m || !max)
		return 0;
	fds[n++] = (struct curl_waitfd){.fd = m->lfd, .events = CURL_WAIT_POLLIN};
	for (int i = 0; i < METRICS_MAX_CLIENTS && n < max; i++)
		if (m->c[i].fd >= 0)
			fds[n++] = (struct curl_waitfd){
			    .fd = m->c[i].fd,
			    .events = m->c[i].answering ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN};
	return n;
}

/* Write what can be written; drop the client when done or broken. */
static void flush_out(struct mclient *c)
{
	while (c->out_off < c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w <= 0) {
			drop(c);
			return;
		}
		c->out_off += (size_t)w;
	}
	shutdown(c->fd, SHUT_WR);
	drop(c);
}

static void respond(struct metrics_srv *m, struct mclient *c, int status, const char *reason,
		    const char *extra_hdr, struct mg_buf *body, bool head_only)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct mg_buf plain = {0};

	if (!body) {
		mg_buf_addf(&plain, "%d %s\n", status, reason);
		body = &plain;
	}
	c->out.max = METRICS_MAX_BODY + 1024;
	mg_buf_addf(&c->out,
		    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		    "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
		    status, reason, status == 200 ? PROM_CONTENT_TYPE : text, body->len,
		    extra_hdr ? extra_hdr : "");
	if (!head_only && body->len)
		mg_buf_addn(&c->out, body->p, body->len);
	mg_buf_free(&plain);
	if (c->out.failed) {
		drop(c);
		return;
	}
	switch (status) {
	case 200:
		m->n_200++;
		break;
	case 404:
		m->n_404++;
		break;
	case 405:
		m->n_405++;
		break;
	case 431:
		m->n_431++;
		break;
	case 500:
		m->n_500++;
		break;
	default:
		m->n_400++;
	}
	c->answering = true;
	flush_out(c);
}

int metrics_route(const char *head, size_t len, bool *head_only)
{
	const char *eol = memchr(head, '\n', len), *p = head, *m, *t, *v;
	size_t ml, tl, vl, pl;

	*head_only = false;
	if (!eol)
		return 400;
	if (eol > head && eol[-1] == '\r')
		eol--;
	/* METHOD SP TARGET SP HTTP/1.x, exactly (RFC 9112 section 3) */
	for (m = p; p < eol && *p >= 'A' && *p <= 'Z'; p++)
		;
	ml = (size_t)(p - m);
	if (!ml || ml > 16 || p == eol || *p++ != ' ')
		return 400;
	for (t = p; p<eol && * p> ' ' && *p < 0x7f; p++)
		;
	tl = (size_t)(p - t);
	if (!tl || tl > 1024 || *t != '/' || p == eol || *p++ != ' ')
		return 400;
	v = p;
	vl = (size_t)(eol - v);
	if (vl != 8 || (memcmp(v, "HTTP/1.1", 8) && memcmp(v, "HTTP/1.0", 8)))
		return 400;
	for (pl = 0; pl < tl && t[pl] != '?'; pl++)
		;
	if (pl != strlen("/metrics") || memcmp(t, "/metrics", pl))
		return 404;
	if (ml == 4 && !memcmp(m, "HEAD", 4))
		*head_only = true;
	else if (ml != 3 || memcmp(m, "GET", 3))
		return 405;
	return 200;
}

/* A complete request head is in c->in: answer it. */
static void handle_request(struct metrics_srv *m, struct mclient *c)
{
	bool head = false;

	switch (metrics_route(c->in, c->in_len, &head)) {
	case 404:
		respond(m, c, 404, "Not Found", NULL, NULL, false);
		return;
	case 405:
		respond(m, c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", NULL, false);
		return;
	case 200:
		break;
	default:
		respond(m, c, 400, "Bad Request", NULL, NULL, false);
		return;
	}
	struct mg_buf body = {.max = METRICS_MAX_BODY};
	m->render(m->ctx, &body);
	if (body.failed) {
		mg_buf_free(&body);
		respond(m, c, 500, "Internal Server Error", NULL, NULL, false);
		return;
	}
	respond(m, c, 200, "OK", NULL, &body, head);
	mg_buf_free(&body);
}

static void read_request(struct metrics_srv *m, struct mclient *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			drop(c);
			return;
		}
		c->in_len += (size_t)r;
		/* the head ends with an empty line; a body (there should be none) is ignored */
		for (size_t i = 0; i + 1 < c->in_len; i++)
			if (c->in[i] == '\n' &&
			    (c->in[i + 1] == '\n' ||
			     (c->in[i + 1] == '\r' && i + 2 < c->in_len && c->in[i + 2] == '\n'))) {
				handle_request(m, c);
				return;
			}
		if (c->in_len == sizeof(c->in)) {
			respond(m, c, 431, "Request Header Fields Too Large", NULL, NULL, false);
			return;
		}
	}
}

static void accept_clients(struct metrics_srv *m, uint64_t now)
{
	for (;;) {
		int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mclient *slot = NULL;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("metrics: accept: %s", strerror(errno));
			return;
		}
		/* a free slot, else the oldest client gives way */
		for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
			if (m->c[i].fd < 0) {
				slot = &m->c[i];
				break;
			}
			if (!slot || m->c[i].since < slot->since)
				slot = &m->c[i];
		}
		drop(slot);
		slot->fd = fd;
		slot->since = now;
	}
}

void metrics_dispatch(struct metrics_srv *m, const struct curl_waitfd *fds, unsigned n)
{
	uint64_t now = mono_ms();

	if (!m)
		return;
	for (unsigned k = 0; k < n; k++) {
		if (!fds[k].revents)
			continue;
		if (fds[k].fd == m->lfd) {
			accept_clients(m, now);
			continue;
		}
		for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
			struct mclient *c = &m->c[i];
			/* (a client accepted just now may have the number of one dropped:
			 * reading it early only finds nothing yet) */
			if (c->fd != fds[k].fd)
				continue;
			if (c->answering)
				flush_out(c);
			else
				read_request(m, c);
			break;
		}
	}
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (m->c[i].fd >= 0 && now - m->c[i].since > METRICS_CLIENT_MS)
			drop(&m->c[i]);
}

uint64_t metrics_requests(const struct metrics_srv *m, int status)
{
	if (!m)
		return 0;
	switch (status) {
	case 200:
		return m->n_200;
	case 404:
		return m->n_404;
	case 405:
		return m->n_405;
	case 431:
		return m->n_431;
	case 500:
		return m->n_500;
	default:
		return m->n_400;
	}
}
