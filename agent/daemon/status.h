/* SPDX-License-Identifier: MIT */
/* What the agent knows, kept in status.json and shown by `meshgate status`. */
#ifndef MG_STATUS_H
#define MG_STATUS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/*
 * The one writer of <state>/status.json. Commands and the daemon report facts to a
 * status_file; it keeps the document in memory and writes it (atomically, 0600) on
 * status_flush() when something changed, stamping updated_at. Readers use
 * state_load_status(). Failures to write are logged, never fatal: status is a report,
 * not state the agent depends on.
 */
struct status_file;

/* Load what is there (an unreadable file starts afresh). NULL only when out of memory. */
struct status_file *status_open(const char *dir);
/* Flush, then free. NULL is a no-op. */
void status_close(struct status_file *sf);
/* Write the document if anything changed since the last flush. */
void status_flush(struct status_file *sf);

/* The error the user should see (NULL or "" clears it). */
void status_set_error(struct status_file *sf, const char *msg);
/* The version of the last config document the controller sent (valid or not). */
void status_set_fetched(struct status_file *sf, int64_t version);
/* The config version in force on the host; < 0: none. */
void status_set_applied(struct status_file *sf, int64_t version);
/*
 * What the daemon is doing: `state` is starting, running, stopped (cleanly, or after a
 * cleanup) or down; `details` (an object, ownership taken, may be NULL) replaces the
 * runtime figures (tunnel, routes, firewall, cloud) of the last report.
 */
void status_set_daemon(struct status_file *sf, const char *state, cJSON *details);

void status_print_config_summary(FILE *f, const struct mg_config *c);

#endif
