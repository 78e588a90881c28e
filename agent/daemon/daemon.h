/* SPDX-License-Identifier: MIT */
/* meshgate run: the one event loop that keeps the host in line with the controller. */
#ifndef MG_DAEMON_H
#define MG_DAEMON_H

#include "cloudmgr.h"
#include "worker.h"
#include "dataplane.h"

struct daemon_opts {
	const char *state_dir;
	struct dp_opts dp;
	int poll_wait_s;       /* long-poll wait asked of the controller (default 25) */
	int status_interval_s; /* status report period (default 10) */
	int backoff_max_s;     /* cap of the retry backoff (default 60) */
	int cloud_interval_s;  /* VPC route re-check period (default 60) */
	struct cloud_opts cloud;
	int log_level;           /* enum mg_log_level; -1: not set (info) */
	char metrics_listen[64]; /* "ADDR:PORT" of the Prometheus endpoint; "": off */
	/* SIGHUP: the settings as they are now (settings file, then the same flags) into
	 * *fresh; the daemon applies what can change live. NULL: SIGHUP only re-checks. */
	int (*reload)(void *ctx, struct daemon_opts *fresh, mg_err *e);
	void *reload_ctx;
};

/* Runs until SIGTERM/SIGINT (returns EXIT_OK), revocation (EXIT_REVOKED) or a fatal error. */
int daemon_run(const struct daemon_opts *o);

/*
 * What a stop takes away, in one place for every way of stopping:
 * TEARDOWN_TUNNEL (SIGTERM, `meshgate cleanup`): the tunnel, its routes and the
 *   nftables table; sysctls and cloud routes stay (the service comes back).
 * TEARDOWN_ALL (`meshgate down`, revocation): that, the sysctls put back, the drop-in
 *   removed, and the cloud routes meshgate created deleted: by the daemon's cloud worker
 *   `cw` (waiting a bounded time), or, with cw NULL, synchronously here.
 */
enum teardown_level { TEARDOWN_TUNNEL, TEARDOWN_ALL };
int daemon_teardown(const struct daemon_opts *o, struct dataplane *dp, struct cloudworker *cw,
		    enum teardown_level level, mg_err *e);

#endif
