/* SPDX-License-Identifier: MIT */
/*
 * Why a thread (and not a process or a curl_multi state machine):
 *  - the drivers are straight-line blocking code: list, plan, apply, retries with backoff,
 *    credential refresh, and (Azure, GCP) long-running operations polled until done. On a
 *    thread they stay that simple; a curl_multi state machine would turn every driver
 *    into callbacks and resumable states, four times over;
 *  - curl easy handles are per thread: the worker makes its own, the loop's multi handle
 *    never sees them;
 *  - a separate process would need IPC for the desired state, the status and the owned
 *    record, and would hold the cloud credentials apart from the one state directory the
 *    daemon already owns, for no isolation gain (same user, same capabilities).
 * The worker owns the cloudmgr (provider, identity, owned record, cloud.json); the loop
 * only hands over copies and reads copies. Stopping is bounded: transfers poll the abort
 * flag (httpc's progress hook), retry sleeps are sliced, and the metadata calls have
 * short timeouts.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct cloudworker {
	struct cloudmgr *cm; /* the worker thread's alone once started */
	pthread_t th;
	bool started;
	int efd;
	atomic_bool stop, abandon, writes_ok;
	_Atomic uint64_t write_until; /* HA lease end (monotonic ms); UINT64_MAX = none */

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t wake, done;
	bool manage;
	struct cidr *dests;
	size_t n_dests;
	bool ha_standby, ha_takeover;
	struct crec_peer *peers;
	size_t n_peers;
	uint64_t gen, done_gen;
	bool teardown_req, teardown_done;
	int teardown_rc;
	char teardown_msg[512];
	cJSON *snap;
	double owned; /* from the last snapshot */
	struct cw_result res;
	bool have_res;
	struct cloud_call_counts calls; /* API requests; only the worker thread adds */
};

static bool hook_aborted(void *ud)
{
	struct cloudworker *w = ud;

	return atomic_load(&w->stop) || atomic_load(&w->abandon);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool hook_may_write(void *ud)
{
	struct cloudworker *w = ud;
	uint64_t until = atomic_load(&w->write_until);

	return atomic_load(&w->writes_ok) && (until == UINT64_MAX || mono_ms() < until);
}

/* Every API request of the provider (cloud_call_count), on the worker thread. */
static void hook_api_call(void *ud, unsigned slot, enum cloud_call_result res)
{
	struct cloudworker *w = ud;

	if (slot >= CLOUD_CALL_SLOTS || (unsigned)res >= CLOUD_CALL_RESULTS)
		return;
	pthread_mutex_lock(&w->mu);
	w->calls.n[slot][res]++;
	pthread_mutex_unlock(&w->mu);
}

static void snapshot(struct cloudworker *w)
{
	cJSON *j = cm_status(w->cm);
	double owned = (double)cm_owned_count(w->cm);

	pthread_mutex_lock(&w->mu);
	if (j) {
		cJSON_Delete(w->snap);
		w->snap = j;
	}
	w->owned = owned;
	pthread_mutex_unlock(&w->mu);
}

static void post(struct cloudworker *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err("cloud worker: eventfd: %s", strerror(errno));
}

static void *run(void *arg)
{
	struct cloudworker *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!atomic_load(&w->stop) && !w->teardown_req && w->gen == w->done_gen)
			pthread_cond_wait(&w->wake, &w->mu);
		if (atomic_load(&w->stop))
			break;
		if (w->teardown_req) {
			mg_err e = {""};
			int rc;

			atomic_store(&w->abandon, false);
			pthread_mutex_unlock(&w->mu);
			rc = cm_teardown(w->cm, &e);
			snapshot(w);
			pthread_mutex_lock(&w->mu);
			w->teardown_req = false;
			w->teardown_done = true;
			w->teardown_rc = rc;
			snprintf(w->teardown_msg, sizeof(w->teardown_msg), "%s", e.msg);
			pthread_cond_broadcast(&w->done);
			continue;
		}
		/* take a copy of the desired state and work without the lock */
		uint64_t g = w->gen;
		bool manage = w->manage, standby = w->ha_standby;
		size_t n = w->n_dests;
		struct cidr *d = calloc(n ? n : 1, sizeof(*d));
		mg_err e = {""};
		int rc;

		if (d && n)
			memcpy(d, w->dests, n * sizeof(*d));
		cm_set_ha(w->cm, w->ha_takeover, w->peers, w->n_peers);
		pthread_mutex_unlock(&w->mu);
		if (!d)
			rc = mg_err_set(&e, "out of memory");
		else if (standby)
			rc = cm_standby(w->cm, &e);
		else
			rc = cm_sync(w->cm, manage, d, n, &e);
		free(d);
		snapshot(w);
		pthread_mutex_lock(&w->mu);
		if (w->done_gen < g)
			w->done_gen = g;
		w->res.generation = g;
		w->res.ok = rc == 0;
		snprintf(w->res.msg, sizeof(w->res.msg), "%s", rc == 0 ? "" : e.msg);
		w->have_res = true;
		post(w);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int cw_start(struct cloudworker **out, const char *state_dir, const struct cloud_opts *o, mg_err *e)
{
	struct cloudworker *w = calloc(1, sizeof(*w));
	struct cloud_opts co = *o;
	sigset_t all, old;
	int rc;

	*out = NULL;
	if (!w)
		return mg_err_set(e, "out of memory");
	w->efd = -1;
	atomic_init(&w->stop, false);
	atomic_init(&w->abandon, false);
	atomic_init(&w->writes_ok, true);
	atomic_init(&w->write_until, UINT64_MAX);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->done, NULL);
	co.hooks = (struct cloud_hooks){hook_aborted, hook_may_write, w, hook_api_call};
	if (cm_open(&w->cm, state_dir, &co, e) < 0)
		goto fail;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		mg_err_set(e, "cloud worker: eventfd: %s", strerror(errno));
		goto fail;
	}
	snapshot(w);
	/* signals stay with the loop's signalfd */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->th, NULL, run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		mg_err_set(e, "cloud worker: cannot start a thread: %s", strerror(rc));
		goto fail;
	}
	w->started = true;
	*out = w;
	return 0;
fail:
	cw_stop(w);
	return -1;
}

void cw_stop(struct cloudworker *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		atomic_store(&w->stop, true);
		pthread_cond_broadcast(&w->wake);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
	}
	cm_close(w->cm);
	if (w->efd >= 0)
		close(w->efd);
	cJSON_Delete(w->snap);
	free(w->dests);
	free(w->peers);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int cw_event_fd(const struct cloudworker *w)
{
	return w ? w->efd : -1;
}

int cw_read(struct cloudworker *w, struct cw_result *out)
{
	uint64_t v;
	int got;

	while (read(w->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	pthread_mutex_lock(&w->mu);
	got = w->have_res;
	if (got)
		*out = w->res;
	w->have_res = false;
	pthread_mutex_unlock(&w->mu);
	return got;
}

uint64_t cw_submit(struct cloudworker *w, bool manage_routes, const struct cidr *dests,
		   size_t n_dests)
{
	struct cidr *copy;
	uint64_t g;

	/* route management off: the worker only takes ours out (cm_sync), so it keeps no
	 * copy of the destinations (10,000 of them are 180 KiB for nothing) */
	if (!manage_routes)
		n_dests = 0;
	copy = calloc(n_dests ? n_dests : 1, sizeof(*copy));

	pthread_mutex_lock(&w->mu);
	if (copy) {
		if (n_dests)
			memcpy(copy, dests, n_dests * sizeof(*copy));
		free(w->dests);
		w->dests = copy;
		w->n_dests = n_dests;
		w->manage = manage_routes;
	} else {
		log_err("cloud worker: out of memory; the previous desired state stays");
	}
	g = ++w->gen;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	return g;
}

void cw_allow_writes(struct cloudworker *w, bool allowed)
{
	atomic_store(&w->writes_ok, allowed);
}

void cw_set_write_deadline(struct cloudworker *w, uint64_t until_ms)
{
	atomic_store(&w->write_until, until_ms);
}

void cw_set_ha(struct cloudworker *w, bool standby, bool takeover, const struct crec_peer *peers,
	       size_t n)
{
	struct crec_peer *copy = n ? calloc(n, sizeof(*copy)) : NULL;
	bool oom = n && !copy;

	if (oom)
		log_err("cloud worker: out of memory; the previous HA peers stay");
	else if (copy)
		memcpy(copy, peers, n * sizeof(*copy));
	pthread_mutex_lock(&w->mu);
	w->ha_standby = standby;
	w->ha_takeover = takeover;
	if (!oom) {
		free(w->peers);
		w->peers = copy;
		w->n_peers = n;
	}
	pthread_mutex_unlock(&w->mu);
}

void cw_api_calls(struct cloudworker *w, struct cloud_call_counts *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->calls;
	pthread_mutex_unlock(&w->mu);
}

cJSON *cw_status(struct cloudworker *w)
{
	cJSON *j;

	pthread_mutex_lock(&w->mu);
	j = w->snap ? cJSON_Duplicate(w->snap, true) : NULL;
	pthread_mutex_unlock(&w->mu);
	return j;
}

int cw_teardown(struct cloudworker *w, long wait_ms, mg_err *e)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	w->teardown_req = true;
	w->teardown_done = false;
	atomic_store(&w->abandon, true); /* give up the pass under way, if any */
	pthread_cond_signal(&w->wake);
	while (!w->teardown_done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->done, &w->mu, &until);
	if (!w->teardown_done)
		rc = mg_err_set(e,
				"cloud routes still being removed after %ld ms; %.0f recorded as "
				"ours were left (`meshgate down` removes them)",
				wait_ms, w->owned);
	else if (w->teardown_rc < 0)
		rc = mg_err_set(e, "%s", w->teardown_msg);
	else
		rc = 0;
	pthread_mutex_unlock(&w->mu);
	return rc;
}
