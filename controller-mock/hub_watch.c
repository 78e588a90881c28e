/* SPDX-License-Identifier: MIT */
/*
 * Supervision of the hub's wireguard-go. Its death must be seen at once (within 1 s):
 * a pidfd (pidfd_open) becomes readable when the process ends, for a daemon we started
 * (our child) as well as for one adopted from an earlier run of the controller, whose pid
 * is the SO_PEERCRED of its UAPI socket (the credentials of the process that listens on
 * it). A one-second tick backs it up (kernel backend, or no pidfd): the interface
 * vanished or the daemon no longer answers. Each tick also records the peers' current
 * endpoints, so that a restarted hub can give every peer its endpoint back and start the
 * handshakes itself instead of waiting for the peers to notice.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub_priv.h"
#include "log.h"

#define HUB_TICK_MS 1000

int hub_watch_init(struct hub *h, mg_err *e)
{
	struct itimerspec its = {.it_interval = {.tv_nsec = HUB_TICK_MS * 1000000L},
				 .it_value = {.tv_nsec = HUB_TICK_MS * 1000000L}};
	struct epoll_event ev = {.events = EPOLLIN};

	h->pidfd = -1;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (h->epfd < 0 || h->tfd < 0)
		return mg_err_set(e, "hub watch: %s", strerror(errno));
	if (HUB_TICK_MS >= 1000) {
		its.it_interval = (struct timespec){.tv_sec = HUB_TICK_MS / 1000};
		its.it_value = its.it_interval;
	}
	ev.data.fd = h->tfd;
	if (timerfd_settime(h->tfd, 0, &its, NULL) < 0 ||
	    epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->tfd, &ev) < 0)
		return mg_err_set(e, "hub watch: %s", strerror(errno));
	return 0;
}

/* The pid listening on the UAPI socket of `ifname` (0: none, or not found). */
static pid_t uapi_server_pid(const struct hub *h, const char *ifname)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cr = {0};
	socklen_t len = sizeof(cr);
	int fd;

	if (!wg_uapi_sock_path(h->wg, ifname, sa.sun_path, sizeof(sa.sun_path)))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		cr.pid = 0;
	close(fd);
	return cr.pid > 0 ? cr.pid : 0;
}

void hub_watch_daemon(struct hub *h, const char *ifname)
{
	struct epoll_event ev = {.events = EPOLLIN};
	const char *backend = wg_backend_name(h->wg);

	h->pid = wg_child_pid(h->wg);
	h->child = h->pid > 0;
	if (!h->pid && backend && !strcmp(backend, "userspace"))
		h->pid = uapi_server_pid(h, ifname);
	if (!h->pid) {
		if (backend && !strcmp(backend, "userspace"))
			log_warn("hub %s: no pid for its wireguard-go (SO_PEERCRED); watching it "
				 "every %d ms instead",
				 ifname, HUB_TICK_MS);
		return;
	}
	h->pidfd = pidfd_open(h->pid, 0);
	ev.data.fd = h->pidfd;
	if (h->pidfd < 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->pidfd, &ev) < 0) {
		log_warn("hub %s: cannot watch wireguard-go pid %d (%s); checking it every %d ms "
			 "instead",
			 ifname, (int)h->pid, strerror(errno), HUB_TICK_MS);
		if (h->pidfd >= 0)
			close(h->pidfd);
		h->pidfd = -1;
		return;
	}
	log_info("hub %s: watching its wireguard-go (pid %d, %s)", ifname, (int)h->pid,
		 h->child ? "started here" : "adopted");
}

void hub_watch_forget(struct hub *h, char *how, size_t howlen)
{
	int st;

	snprintf(how, howlen, "ended");
	if (h->pidfd >= 0) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->pidfd, NULL);
		close(h->pidfd);
		h->pidfd = -1;
	}
	if (h->child && h->pid > 0 && waitpid(h->pid, &st, WNOHANG) == h->pid) {
		if (WIFSIGNALED(st))
			snprintf(how, howlen, "was killed by signal %d", WTERMSIG(st));
		else if (WIFEXITED(st))
			snprintf(how, howlen, "exited with status %d", WEXITSTATUS(st));
		if (h->wg)
			wg_reap_child(h->wg, h->pid);
	}
	h->pid = 0;
	h->child = false;
}

void hub_watch_free(struct hub *h)
{
	char how[64];

	hub_watch_forget(h, how, sizeof(how));
	if (h->tfd >= 0)
		close(h->tfd);
	if (h->epfd >= 0)
		close(h->epfd);
	h->tfd = h->epfd = -1;
	free(h->eps);
	h->eps = NULL;
	h->n_eps = 0;
}

static int ep_cmp(const void *a, const void *b)
{
	return memcmp(((const struct hub_ep *)a)->key, ((const struct hub_ep *)b)->key, WG_KEY_LEN);
}

/* The sorted entry of `key` (the first h->n_eps entries are sorted), or NULL. */
static struct hub_ep *ep_lookup(const struct hub *h, const uint8_t key[WG_KEY_LEN])
{
	struct hub_ep k;

	if (!h->n_eps)
		return NULL;
	memcpy(k.key, key, WG_KEY_LEN);
	return bsearch(&k, h->eps, h->n_eps, sizeof(*h->eps), ep_cmp);
}

const struct sockaddr_storage *hub_eps_find(const struct hub *h, const uint8_t key[WG_KEY_LEN])
{
	const struct hub_ep *f = ep_lookup(h, key);
	return f ? &f->addr : NULL;
}

void hub_eps_record(struct hub *h, const struct wg_device *dev)
{
	size_t add = 0, n = h->n_eps;
	struct hub_ep *v;

	for (size_t i = 0; i < dev->n_peers; i++)
		if (dev->peers[i].has_endpoint && !ep_lookup(h, dev->peers[i].public_key))
			add++;
	if (add) {
		v = realloc(h->eps, (n + add) * sizeof(*v));
		if (!v) {
			log_warn("hub: out of memory remembering peer endpoints");
			return;
		}
		h->eps = v;
	}
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *p = &dev->peers[i];
		struct hub_ep *f;

		if (!p->has_endpoint)
			continue;
		f = ep_lookup(h, p->public_key); /* keys are unique within dev */
		if (!f) {
			f = &h->eps[n++];
			memcpy(f->key, p->public_key, WG_KEY_LEN);
		}
		f->addr = p->endpoint;
	}
	if (n != h->n_eps) {
		h->n_eps = n;
		qsort(h->eps, h->n_eps, sizeof(*h->eps), ep_cmp);
		log_debug("hub: endpoints known for %zu peer(s)", h->n_eps);
	}
}

void hub_eps_prune(struct hub *h, const struct hub_peer *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < h->n_eps; i++) {
		bool keep = false;
		for (size_t j = 0; j < n && !keep; j++)
			keep = !memcmp(v[j].public_key, h->eps[i].key, WG_KEY_LEN);
		if (keep)
			h->eps[k++] = h->eps[i];
	}
	h->n_eps = k;
}

int hub_watch_fd(const struct ctl_ctx *ctx)
{
	return ctx->hub ? ctx->hub->epfd : -1;
}

static bool hub_link_ok(const struct ctl_ctx *ctx)
{
	mg_err e = {""};
	uint32_t idx;
	return rtnl_link_index(&ctx->hub->rt, ctx->hub_ifname, &idx, &e) == 0;
}

void hub_watch_run(struct ctl_ctx *ctx)
{
	struct hub *h = ctx->hub;
	struct epoll_event evs[4];
	bool died = false, tick = false;
	const char *why = NULL;
	int n;

	if (!h)
		return;
	n = epoll_wait(h->epfd, evs, MG_ARRAY_SIZE(evs), 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == h->tfd) {
			uint64_t ticks;
			if (read(h->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_warn("hub: timer: %s", strerror(errno));
			tick = true;
		} else if (h->pidfd >= 0 && evs[i].data.fd == h->pidfd) {
			died = true;
		}
	}
	/* the interface goes with the process, a moment before its pidfd fires: a tick in
	 * between sees the link gone; give the pidfd that moment to tell the cause */
	if (!died && tick && h->pidfd >= 0 && h->wg && !hub_link_ok(ctx)) {
		struct pollfd p = {.fd = h->pidfd, .events = POLLIN};
		died = poll(&p, 1, 200) == 1;
	}
	if (died) {
		why = "its wireguard-go died";
	} else if (tick) {
		struct wg_device cur = {0};
		mg_err e = {""};
		uint32_t idx;

		if (!h->wg)
			why = "it is down (the last restart failed)";
		else if (rtnl_link_index(&h->rt, ctx->hub_ifname, &idx, &e) != 0)
			why = "its interface vanished";
		else if (wg_userspace_dead(h->wg, ctx->hub_ifname))
			why = "its wireguard-go no longer answers";
		else if (wg_get_device(h->wg, ctx->hub_ifname, &cur, &e) == 0)
			hub_eps_record(h, &cur);
		else /* busy, perhaps: the next tick tries again; a death is seen above */
			log_debug("hub %s: reading endpoints: %s", ctx->hub_ifname, e.msg);
		wg_device_free(&cur);
	}
	if (why) {
		mg_err e = {""};
		if (hub_revive(ctx, why, &e) < 0)
			log_err("%s (retrying in %d ms)", e.msg, HUB_TICK_MS);
	}
}
