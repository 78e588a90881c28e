/* SPDX-License-Identifier: MIT */
/*
 * Long-poll waiters: suspended microhttpd connections on their connector's list. A
 * config change resumes all of a connector's waiters at once; a timerfd armed for the
 * earliest deadline resumes the ones whose wait ran out. Nothing polls.
 *
 * microhttpd in an external loop has no inter-thread channel: a resume is only a mark
 * that the next MHD_run acts on. Every resume therefore sets ctx->resumed, and the loop
 * (http_serve) runs microhttpd again at once; waiters that suspend again are re-linked
 * and the deadline timer is re-armed after every MHD_run (longpoll_arm).
 *
 * With thousands of waiters nothing here may walk them all per request: ctx->lp_next_ms
 * is the earliest deadline armed, lowered by each suspend and recomputed only when the
 * timer fires (longpoll_expire). A waiter woken early leaves it too early at worst,
 * which costs one empty expiry pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>

#include "ha.h"
#include "http.h"
#include "log.h"

void longpoll_suspend(struct req *r, struct ctl_connector *c, int64_t deadline_ms)
{
	struct ctl_waiter *w = &r->w;

	w->conn = c;
	w->ctx = r->ctx;
	w->deadline_ms = deadline_ms;
	w->started = true;
	w->prev = NULL;
	w->next = c->waiters;
	if (c->waiters)
		c->waiters->prev = w;
	c->waiters = w;
	w->linked = true;
	if (deadline_ms < r->ctx->lp_next_ms)
		r->ctx->lp_next_ms = deadline_ms;
	MHD_suspend_connection(w->mc);
	ha_watch(w); /* a socket closed while waiting ends the lease at once */
}

void longpoll_unlink(struct ctl_waiter *w)
{
	ha_unwatch(w);
	if (!w->linked)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		w->conn->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
	w->linked = false;
}

static void resume(struct ctl_waiter *w)
{
	longpoll_unlink(w);
	MHD_resume_connection(w->mc);
	w->ctx->resumed = true;
}

/*
 * Wake-ups are queued and resumed LONGPOLL_BATCH at a time, one batch per turn of the
 * loop (longpoll_pump), so that a change reaching ten thousand waiters does not hold
 * the admin API (or anything else) for the whole burst: each turn serves a batch and
 * whatever else is ready (512: a turn of ~100 ms on a busy 2-core machine; 1,024
 * doubled the admin API's p99, 256 pushed the last answer past 2 s; see
 * docs/ARCHITECTURE.md). The waiters stay on their connector's list meanwhile (expiry
 * and shutdown find them there); a connector queued twice costs nothing the second time.
 */
#define LONGPOLL_BATCH 512
static struct ctl_connector **pending;
static size_t pending_head, pending_n, pending_cap;
static size_t burst_n;        /* waiters resumed since the queue was last empty */
static int64_t burst_started; /* when that burst began (CLOCK_MONOTONIC ms) */

void longpoll_wake(struct ctl_connector *c)
{
	if (!c->waiters)
		return;
	if (pending_head == pending_n && !burst_n)
		burst_started = now_mono_ms();
	if (pending_n == pending_cap) {
		size_t cap = pending_cap ? 2 * pending_cap : 256;
		struct ctl_connector **v = realloc(pending, cap * sizeof(*v));
		if (!v) {
			/* no room to queue it: wake it now */
			while (c->waiters)
				resume(c->waiters);
			return;
		}
		pending = v;
		pending_cap = cap;
	}
	pending[pending_n++] = c;
}

bool longpoll_pump(void)
{
	size_t budget = LONGPOLL_BATCH;

	while (pending_head < pending_n && budget) {
		struct ctl_connector *c = pending[pending_head];
		while (c->waiters && budget) {
			resume(c->waiters);
			budget--;
			burst_n++;
		}
		if (!c->waiters)
			pending_head++;
	}
	if (pending_head == pending_n) {
		pending_head = pending_n = 0;
		if (burst_n >= 1000)
			log_info("long-poll: %zu waiters resumed in %lld ms", burst_n,
				 (long long)(now_mono_ms() - burst_started));
		burst_n = 0;
		return false;
	}
	return true;
}

void longpoll_expire(struct ctl_ctx *ctx)
{
	int64_t now = now_mono_ms(), min = INT64_MAX;

	if (now < ctx->lp_next_ms)
		return;
	for (size_t i = 0; i < ctx->store.n_conns; i++) {
		struct ctl_waiter *w = ctx->store.conns[i]->waiters, *next;
		for (; w; w = next) {
			next = w->next;
			if (w->deadline_ms <= now)
				resume(w);
			else if (w->deadline_ms < min)
				min = w->deadline_ms;
		}
	}
	ctx->lp_next_ms = min;
}

int longpoll_arm(struct ctl_ctx *ctx, mg_err *e)
{
	struct itimerspec its = {0};
	int64_t min = ctx->lp_next_ms;

	if (min == ctx->lp_armed_ms)
		return 0;
	ctx->lp_armed_ms = min;
	if (min != INT64_MAX) {
		if (min < 1)
			min = 1;
		its.it_value.tv_sec = min / 1000;
		its.it_value.tv_nsec = (min % 1000) * 1000000;
	}
	if (timerfd_settime(ctx->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return mg_err_set(e, "timerfd_settime: %s", strerror(errno));
	return 0;
}

size_t longpoll_shutdown(struct ctl_ctx *ctx)
{
	size_t n = 0;

	free(pending);
	pending = NULL;
	pending_head = pending_n = pending_cap = 0;
	for (size_t i = 0; i < ctx->store.n_conns; i++) {
		struct ctl_connector *c = ctx->store.conns[i];
		while (c->waiters) {
			c->waiters->shutdown = true;
			resume(c->waiters);
			n++;
		}
	}
	return n;
}
