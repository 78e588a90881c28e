/* SPDX-License-Identifier: MIT */
/*
 * Cloud API requests counted by provider, action and result (meshgate_cloud_api_calls_total).
 * Every driver reports each HTTP exchange with its API through cloud_call_count() (cloud.h);
 * the action is one of a fixed table per provider (the EC2 Action, the ARM method and
 * resource type, the Compute API method, the OCI operation), so the metric's label set stays
 * bounded whatever the API answers. The worker thread owns the counters (worker.h).
 */
#ifndef MG_CLOUD_CALLS_H
#define MG_CLOUD_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "cloud.h"

#define CLOUD_CALL_SLOTS 48 /* at least the table's rows (checked at build time) */

struct cloud_call_counts {
	uint64_t n[CLOUD_CALL_SLOTS][CLOUD_CALL_RESULTS];
};

/* Rows in the table; each row is one (provider, action). */
unsigned cloud_call_slots(void);
/* The row's provider and action. */
void cloud_call_slot_name(unsigned slot, const char **provider, const char **action);
/* The row of (provider, action); an action not in the table is the provider's "other".
 * -1 for a provider not in the table. */
int cloud_call_slot(const char *provider, const char *action);
/* "ok", "throttled", "denied", "client_error", "server_error", "no_answer". */
const char *cloud_call_result_name(enum cloud_call_result r);
enum cloud_call_result cloud_call_result_of(long http_status, bool throttled);

/* Actions of Azure and GCP requests, from the method and the URL or path (pure). */
/* "PUT routes": the method and the last resource type of an ARM path or URL. */
void cloud_call_azure_action(const char *method, const char *url, char *out, size_t len);
/* "routes.insert": the Compute API method of a path under projects/P/. */
void cloud_call_gcp_action(const char *method, const char *path, char *out, size_t len);

#endif
