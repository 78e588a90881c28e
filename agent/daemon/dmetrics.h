/* SPDX-License-Identifier: MIT */
/*
 * What `meshgate run` exposes at /metrics: the loop keeps a few counters here (repairs,
 * controller contact, configs) and the rest is read when scraped (the tunnel, routes,
 * firewall counters, the cloud worker's snapshot). Names and units follow Prometheus
 * conventions (meshgate_*_total counters, _seconds, _bytes); the list is in meshgate(8).
 */
#ifndef MG_DMETRICS_H
#define MG_DMETRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "dataplane.h"
#include "metrics.h"
#include "worker.h"

enum dm_repair { DM_REPAIR_DATAPATH, DM_REPAIR_SYSCTL, DM_REPAIR_WIREGUARD, DM_REPAIR__COUNT };

struct dmetrics {
	uint64_t repairs[DM_REPAIR__COUNT]; /* drift repaired, by kind */
	int64_t last_contact;               /* unix s of the controller's last answer; 0 never */
	uint64_t polls_ok, polls_failed;    /* long-polls answered / failed */
	uint64_t configs_received, configs_refused;
	int64_t applied_version; /* -1: none in force */
	bool applying;           /* the config in force is not fully applied yet */
	size_t routes_desired;
	uint8_t hub_key[32];
	bool have_hub;
	/* HA (not there yet): role "none", epoch 0 */
	const char *ha_role;
	uint64_t ha_epoch;
};

/* The whole exposition text. Any of dp, cw, srv may be NULL. */
void dmetrics_render(const struct dmetrics *m, struct dataplane *dp, struct cloudworker *cw,
		     const struct metrics_srv *srv, struct mg_buf *b);

#endif
