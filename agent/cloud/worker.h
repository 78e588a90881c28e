/* SPDX-License-Identifier: MIT */
/*
 * The cloud worker: one thread that owns the provider, the owned-route record and
 * <state>/cloud.json (a cloudmgr), so that no cloud call ever blocks the daemon's event
 * loop. The loop hands it the desired state (a copy, with a generation number), polls
 * its event fd for finished passes, and shows a status snapshot copied under a mutex.
 * Everything here is called from the loop's thread and never waits on a provider, except
 * cw_teardown (bounded by its `wait_ms`) and cw_stop (bounded: transfers and retry sleeps
 * poll the abort flag).
 */
#ifndef MG_CLOUD_WORKER_H
#define MG_CLOUD_WORKER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "cloud_calls.h"
#include "cloudmgr.h"

struct cloudworker;

/* One finished pass, as the loop reads it back. */
struct cw_result {
	uint64_t generation; /* of the desired state this pass worked on */
	bool ok;
	char msg[512]; /* the failure, for one log line */
};

/* Open the manager (reads cloud.json) and start the thread. */
int cw_start(struct cloudworker **out, const char *state_dir, const struct cloud_opts *o,
	     mg_err *e);
/* Abort what runs, join the thread, close. NULL is fine. */
void cw_stop(struct cloudworker *w);

/* Readable when results are waiting (poll it with the loop's other fds). */
int cw_event_fd(const struct cloudworker *w);
/* Drain the event fd; 1 and the newest result when a pass finished since the last call,
 * 0 when none. */
int cw_read(struct cloudworker *w, struct cw_result *out);

/* Hand over the desired state (copied); a pass runs as soon as the worker is free. Returns
 * the generation number given to it. A newer one replaces a pending one. */
uint64_t cw_submit(struct cloudworker *w, bool manage_routes, const struct cidr *dests,
		   size_t n_dests);
/* Fencing: false = no mutating cloud call may start from now on (checked before each). */
void cw_allow_writes(struct cloudworker *w, bool allowed);
/*
 * HA fencing (docs/HA.md), apart from cw_allow_writes: no mutating call may start at or
 * after `until_ms` (CLOCK_MONOTONIC; the end of this connector's lease by its own clock,
 * 0 = none at all, UINT64_MAX = no lease: the default). Checked by the worker itself
 * before each call, so a process resumed after a stop is fenced before the loop runs.
 */
void cw_set_write_deadline(struct cloudworker *w, uint64_t until_ms);
/* HA role for the next passes (copied): a standby only learns its identity; the active
 * takes over the routes of `peers` (the network's other connectors). */
void cw_set_ha(struct cloudworker *w, bool standby, bool takeover, const struct crec_peer *peers,
	       size_t n);
/* The cloud API requests counted so far (a copy taken under the worker's lock). */
void cw_api_calls(struct cloudworker *w, struct cloud_call_counts *out);
/* The status as of the last finished step: a copy for the caller to own (or NULL). */
cJSON *cw_status(struct cloudworker *w);

/*
 * Remove every route of ours (revocation): abandons the current pass, runs the teardown
 * on the worker and waits at most `wait_ms`. -1 with `e` saying what was left when it
 * failed or did not finish in time (the worker goes on trying until cw_stop).
 */
int cw_teardown(struct cloudworker *w, long wait_ms, mg_err *e);

#endif
