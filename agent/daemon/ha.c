/* SPDX-License-Identifier: MIT */
#include "ha.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static uint64_t margin(const struct agent_ha *h)
{
	uint64_t m = (uint64_t)h->lease_ms / 5;

	return m < HA_MARGIN_MIN_MS ? HA_MARGIN_MIN_MS : m;
}

int ha_check(const struct agent_ha *h, const struct mg_config *c, mg_err *e)
{
	if (c->ha.present && c->ha.epoch < h->max_epoch)
		return mg_err_set(e,
				  "HA epoch %lld is older than epoch %lld seen already (a stale "
				  "config)",
				  (long long)c->ha.epoch, (long long)h->max_epoch);
	return 0;
}

bool ha_take(struct agent_ha *h, const struct mg_config *c)
{
	bool was_active = !h->present || h->active, now_active = !c->ha.present || c->ha.active;
	bool changed = was_active != now_active || (h->present && c->ha.epoch != h->epoch);

	if (c->ha.present && c->ha.epoch > h->max_epoch)
		h->max_epoch = c->ha.epoch;
	if (c->ha.epoch != h->epoch || now_active != was_active)
		h->lease_until = 0; /* a new role: renewed by the next answer only */
	h->present = c->ha.present;
	h->active = now_active;
	h->epoch = c->ha.epoch;
	h->lease_ms = c->ha.lease_ms;
	if (!changed)
		return false;
	if (was_active != now_active)
		h->role_changes++;
	if (h->present)
		log_info("HA: %s, epoch %lld%s", now_active ? "active" : "standby",
			 (long long)c->ha.epoch,
			 now_active ? " (cloud routes are ours to write, once the lease is renewed)"
				    : " (no cloud writes here; another connector of the network "
				      "routes)");
	else
		log_info("HA: the network has one connector now: active, no lease");
	return true;
}

bool ha_renewed(struct agent_ha *h, uint64_t started_ms, uint64_t now)
{
	uint64_t until;
	bool was_ok;

	if (!h->present)
		return false;
	was_ok = ha_may_write(h, now);
	until = started_ms + (uint64_t)h->lease_ms - margin(h);
	if (until > h->lease_until)
		h->lease_until = until;
	if (ha_may_write(h, now) && h->fenced) {
		h->fenced = false;
		log_info("HA: lease renewed (epoch %lld): cloud writes allowed again",
			 (long long)h->epoch);
	}
	return !was_ok && ha_may_write(h, now);
}

bool ha_may_write(const struct agent_ha *h, uint64_t now)
{
	return !h->present || (h->active && now < h->lease_until);
}

uint64_t ha_write_until(const struct agent_ha *h)
{
	if (!h->present)
		return UINT64_MAX;
	return h->active ? h->lease_until : 0;
}

bool ha_expired(struct agent_ha *h, uint64_t now)
{
	if (!h->present || !h->active || !h->lease_until || now < h->lease_until || h->fenced)
		return false;
	h->fenced = true;
	return true;
}

int ha_poll_wait_s(const struct agent_ha *h, int wait_s)
{
	int cap;

	if (!h->present)
		return wait_s;
	cap = (int)(h->lease_ms / 3000);
	if (cap < 1)
		cap = 1;
	return wait_s < cap ? wait_s : cap;
}

size_t ha_peers(const struct mg_config *c, struct crec_peer *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->ha.n_peers && n < max; i++, n++) {
		const struct config_ha_peer *p = &c->ha.peers[i];
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].connector, sizeof(out[n].connector), "%s", p->id);
		for (size_t k = 0; k < p->n_targets && k < CREC_PEER_TARGETS; k++)
			snprintf(out[n].targets[k], sizeof(out[n].targets[k]), "%s", p->targets[k]);
		out[n].n_targets =
		    p->n_targets < CREC_PEER_TARGETS ? p->n_targets : CREC_PEER_TARGETS;
	}
	return n;
}

cJSON *ha_status_json(const struct agent_ha *h, uint64_t now)
{
	cJSON *j;

	if (!h->present)
		return NULL;
	j = cJSON_CreateObject();
	if (!j || !cJSON_AddStringToObject(j, "role", h->active ? "active" : "standby") ||
	    !cJSON_AddNumberToObject(j, "epoch", (double)h->epoch) ||
	    !cJSON_AddNumberToObject(j, "lease_ms", (double)h->lease_ms) ||
	    !cJSON_AddNumberToObject(j, "lease_left_ms",
				     (double)(h->lease_until > now ? h->lease_until - now : 0)) ||
	    !cJSON_AddBoolToObject(j, "cloud_writes", ha_may_write(h, now)) ||
	    !cJSON_AddNumberToObject(j, "role_changes", (double)h->role_changes)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}
