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

#include "cmetrics.h"
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
 * whatever else is ready (see docs/ARCHITECTURE.md for the figures). The waiters stay on
 * their connector's list meanwhile (expiry and shutdown find them there); a connector
 * queued twice costs nothing the second time.
 *
 * A queued connector may be stale (a change marked it, render.c): the pump renders it
 * first (render_settle, at most LONGPOLL_SETTLE_MS of rendering per turn), saves the
 * versions that changed into the turn's transaction (the loop commits it before the
 * resumed waiters are served: no answer shows an uncommitted version), and then resumes
 * only the waiters
 * whose ETag is no longer current, or all of them when the connector was woken as such
 * (c->wake_all: disabled, revoked). A waiter whose document did not change keeps waiting.
 * The text rendered is kept for the answer (c->doc0): one render per woken connector.
 */
/* The batch adapts to the CPU time a turn takes (serving the last batch, rendering and
 * committing this one): a turn of ~LONGPOLL_TURN_MS keeps an admin request that arrives
 * meanwhile within about two turns on a machine that gives the controller its CPU; CPU
 * time, not wall time, so that other processes' load does not shrink the batches (and
 * stretch the wake) for nothing; at most LONGPOLL_BATCH_MAX, since on a machine that
 * does not give the controller its CPU a turn's wall time grows with the batch although
 * its CPU time stays small (and an admin request waits for the wall time). */
#define LONGPOLL_BATCH_MIN 32
#define LONGPOLL_BATCH_MAX 512
#define LONGPOLL_TURN_MS   40
#define LONGPOLL_SETTLE_MS (LONGPOLL_TURN_MS / 3)
static size_t batch = 256;
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
			/* no room to queue it: wake it now (the answer renders it if stale) */
			while (c->waiters)
				resume(c->waiters);
			return;
		}
		pending = v;
		pending_cap = cap;
	}
	pending[pending_n++] = c;
}

static bool deserves(const struct ctl_connector *c, const struct ctl_waiter *w)
{
	return c->wake_all || w->if_none_match != c->version;
}

/* The next batch from the last turn's length: shrunk in proportion when it was long,
 * grown by a quarter when it was short. */
static void adapt(int64_t turn_ms)
{
	size_t b = batch;

	if (turn_ms > LONGPOLL_TURN_MS)
		b = b * LONGPOLL_TURN_MS / (size_t)turn_ms;
	else if (turn_ms < LONGPOLL_TURN_MS * 2 / 3)
		b += b / 4;
	batch = b < LONGPOLL_BATCH_MIN   ? LONGPOLL_BATCH_MIN
		: b > LONGPOLL_BATCH_MAX ? LONGPOLL_BATCH_MAX
					 : b;
}

bool longpoll_pump(struct ctl_ctx *ctx, int64_t turn_ms)
{
	size_t budget, end = pending_head, want = 0, bumped = 0;
	int64_t t0 = now_mono_ms();
	mg_err e = {0};

	if (pending_head == pending_n)
		return false;
	if (burst_n) /* the last turn served a batch of this burst */
		adapt(turn_ms);
	budget = batch;

	/* 1. render the stale connectors of this batch (bounded in waiters and in time) */
	while (end < pending_n && want < budget && now_mono_ms() - t0 < LONGPOLL_SETTLE_MS) {
		struct ctl_connector *c = pending[end++];
		size_t k = 0;
		int r = render_settle(ctx, c, c->waiters != NULL, &e);
		if (r < 0) {
			log_warn("long-poll: %s (its waiters render again when answered)", e.msg);
			mg_err_clear(&e);
		} else if (r > 0) {
			bumped++;
			cmetrics_count_push();
		}
		for (const struct ctl_waiter *w = c->waiters; w; w = w->next)
			k += deserves(c, w);
		if (!k) { /* unchanged: its waiters keep waiting, nobody needs the text */
			cJSON_free(c->doc0);
			c->doc0 = NULL;
		}
		want += k;
	}
	/* 2. the new versions into this turn's transaction: the loop commits it before the
	 * next MHD_run, where the waiters resumed below are answered */
	if (bumped && store_save(&ctx->store, ctx->store_path, &e) < 0) {
		log_err("store: %s; stopping so that nothing unsaved is served", e.msg);
		ctx->quit = true;
		ctx->failed = true;
		return false;
	}
	/* 3. resume the waiters whose answer changed */
	while (pending_head < end && budget) {
		struct ctl_connector *c = pending[pending_head];
		struct ctl_waiter *w = c->waiters, *next;
		for (; w && budget; w = next) {
			next = w->next;
			if (!deserves(c, w))
				continue;
			resume(w);
			budget--;
			burst_n++;
		}
		if (w)
			break; /* budget spent inside this connector's list: the next turn goes on
				*/
		c->wake_all = false;
		pending_head++;
	}
	if (pending_head == pending_n) {
		pending_head = pending_n = 0;
		if (burst_n >= 1000)
			log_info("long-poll: %zu waiters resumed in %lld ms (last batch %zu)",
				 burst_n, (long long)(now_mono_ms() - burst_started), batch);
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
