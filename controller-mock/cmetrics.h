/* SPDX-License-Identifier: MIT */
/*
 * The controller's own metrics at GET /metrics on its HTTPS listener (admin token
 * required, as for the rest of the admin API): connectors by state, long-polls open,
 * config pushes, requests by status. Counters live here; http.c calls the hooks.
 */
#ifndef CTL_CMETRICS_H
#define CTL_CMETRICS_H

#include "http.h"

/* Every answer (http.c's queue_resp). */
void cmetrics_count_status(unsigned status);
/* A connector's config changed and its long-polls were woken (ctl_commit). */
void cmetrics_count_push(void);
/* GET /metrics. */
enum MHD_Result api_metrics(struct req *r);

#endif
