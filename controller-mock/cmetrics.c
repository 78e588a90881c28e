/* SPDX-License-Identifier: MIT */
/* The controller's /metrics (cmetrics.h). */
#include "cmetrics.h"

#include <stdio.h>
#include <string.h>

#include "prom.h"

/* statuses counted by code; anything else lands in "other" */
static const unsigned codes[] = {200, 201, 204, 304, 400, 401, 403,
				 404, 405, 409, 410, 413, 500, 503};
static unsigned long long by_code[sizeof(codes) / sizeof(codes[0]) + 1];
static unsigned long long pushes;

void cmetrics_count_status(unsigned status)
{
	size_t i;
	for (i = 0; i < MG_ARRAY_SIZE(codes) && codes[i] != status; i++)
		;
	by_code[i]++;
}

void cmetrics_count_push(void)
{
	pushes++;
}

enum MHD_Result api_metrics(struct req *r)
{
	static const char *const states[] = {"pending", "enrolled", "disabled", "revoked"};
	const struct ctl_store *s = &r->ctx->store;
	size_t by_state[4] = {0}, polls = 0, users = 0;
	struct mg_buf b = {.max = 4u << 20};

	for (size_t i = 0; i < s->n_conns; i++) {
		enum ctl_conn_state st = conn_state(s->conns[i]);
		if ((size_t)st < MG_ARRAY_SIZE(by_state))
			by_state[st]++;
		for (const struct ctl_waiter *w = s->conns[i]->waiters; w; w = w->next)
			polls++;
	}
	for (size_t i = 0; i < s->n_users; i++)
		users += !s->users[i]->revoked;
	prom_family(&b, "meshgate_controller_connectors", "gauge", "Connectors by state.");
	for (size_t i = 0; i < MG_ARRAY_SIZE(states); i++)
		prom_sample(&b, "meshgate_controller_connectors", (double)by_state[i], "state",
			    states[i], NULL);
	prom_single(&b, "meshgate_controller_networks", "gauge", "Networks.", (double)s->n_nets);
	prom_single(&b, "meshgate_controller_users", "gauge", "Remote users (not deleted).",
		    (double)users);
	prom_single(&b, "meshgate_controller_longpolls_open", "gauge",
		    "Config long-polls waiting for a change.", (double)polls);
	prom_single(&b, "meshgate_controller_config_pushes_total", "counter",
		    "Config changes published to a connector (its long-polls woken).",
		    (double)pushes);
	prom_family(&b, "meshgate_controller_http_requests_total", "counter",
		    "Requests answered, by HTTP status (this one not yet counted).");
	for (size_t i = 0; i <= MG_ARRAY_SIZE(codes); i++) {
		char c[16];
		snprintf(c, sizeof(c), "%u", i < MG_ARRAY_SIZE(codes) ? codes[i] : 0);
		prom_sample(&b, "meshgate_controller_http_requests_total", (double)by_code[i],
			    "code", i < MG_ARRAY_SIZE(codes) ? c : "other", NULL);
	}
	if (b.failed) {
		mg_buf_free(&b);
		return reply_oom(r);
	}
	enum MHD_Result res = reply_plain(r, 200, b.p, b.len, PROM_CONTENT_TYPE);
	mg_buf_free(&b);
	return res;
}
