/* SPDX-License-Identifier: MIT */
/* Active/standby connectors: leases, elections, epochs, drain (see ha.h, docs/HA.md). */
#include "ha.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "jsonu.h"
#include "log.h"

struct ctl_ha {
	int epfd;  /* the timer and the sockets of waiting long-polls */
	int tfd;   /* next lease expiry or hold-down end */
	bool kick; /* elect at the next ha_run (a connector came back) */
};

static bool is_candidate(const struct ctl_connector *c, const struct ctl_network *n)
{
	return conn_state(c) == CONN_ENROLLED && !strcmp(c->network_id, n->id);
}

/* A network's candidates, counted up to 2: every caller only tells none, one and
 * several apart, and stopping at the second keeps a render or a long-poll (each asks)
 * from walking a fleet of 10,000 (10^8 steps for the re-render of one change). */
static size_t count_candidates(const struct ctl_store *s, const struct ctl_network *n)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n_conns && k < 2; i++)
		k += is_candidate(s->conns[i], n);
	return k;
}

bool ha_enabled(const struct ctl_store *s, const struct ctl_network *n)
{
	return n && count_candidates(s, n) >= 2;
}

static bool alive(const struct ctl_connector *c, int64_t now)
{
	return !c->ha.dropped && c->ha.lease_until_ms > now;
}

static bool held(const struct ctl_connector *c, int64_t now)
{
	return c->ha.hold_until_ms > now;
}

/* The preferred order: the oldest connector first (then by id, for a total order). */
static bool prefers(const struct ctl_connector *a, const struct ctl_connector *b)
{
	if (a->created_at != b->created_at)
		return a->created_at < b->created_at;
	return strcmp(a->id, b->id) < 0;
}

/* The best live candidate other than `not`: not held back before held back, then the
 * preferred order. NULL when none is live. */
static struct ctl_connector *best_live(const struct ctl_store *s, const struct ctl_network *n,
				       const struct ctl_connector * not, int64_t now)
{
	struct ctl_connector *best = NULL;

	for (size_t i = 0; i < s->n_conns; i++) {
		struct ctl_connector *c = s->conns[i];
		if (c == not || !is_candidate(c, n) || !alive(c, now))
			continue;
		if (!best || (held(best, now) && !held(c, now)) ||
		    (held(best, now) == held(c, now) && prefers(c, best)))
			best = c;
	}
	return best;
}

static void switch_active(struct ctl_network *n, const struct ctl_store *s,
			  struct ctl_connector *to, const char *why)
{
	const struct ctl_connector *from =
	    n->ha.active[0] ? store_find_conn(s, n->ha.active) : NULL;

	n->ha.epoch++;
	snprintf(n->ha.active, sizeof(n->ha.active), "%s", to->id);
	n->ha.active_since = now_unix();
	log_info("network %s (%s): connector %s (%s, host \"%s\") is active now, epoch %lld, "
		 "taking over from %s: %s",
		 n->id, n->name, to->id, to->name, to->hostname, (long long)n->ha.epoch,
		 from ? from->id : "nobody", why);
}

/* Leases that ran out (or connections that closed) since the last look. */
static void mark_lapses(struct ctl_store *s, const struct ctl_network *n, int64_t now)
{
	for (size_t i = 0; i < s->n_conns; i++) {
		struct ctl_connector *c = s->conns[i];
		if (!is_candidate(c, n) || c->ha.lapsed || alive(c, now) || !c->ha.lease_until_ms)
			continue;
		c->ha.lapsed = true;
		log_warn("connector %s (%s) of network %s lost its lease: %s", c->id, c->name,
			 n->id,
			 c->ha.dropped ? "its long-poll connection closed"
				       : "no request within the lease time");
	}
}

static int elect_one(struct ctl_store *s, struct ctl_network *n, int64_t now)
{
	struct ctl_connector *cur = NULL, *best;
	size_t nc = count_candidates(s, n);
	char why[256];

	if (n->ha.active[0]) {
		cur = store_find_conn(s, n->ha.active);
		if (cur && !is_candidate(cur, n))
			cur = NULL;
	}
	if (nc == 0) {
		if (n->ha.active[0]) {
			log_info(
			    "network %s (%s): no live connector left (connector %s was active)",
			    n->id, n->name, n->ha.active);
			n->ha.active[0] = '\0';
			return 1;
		}
		return 0;
	}
	if (nc == 1) {
		if (cur)
			return 0;
		for (size_t i = 0; i < s->n_conns; i++)
			if (is_candidate(s->conns[i], n))
				cur = s->conns[i];
		switch_active(n, s, cur, "it is the network's only live connector");
		return 1;
	}
	mark_lapses(s, n, now);
	best = best_live(s, n, cur, now);
	if (cur && alive(cur, now)) {
		if (!n->ha.preempt || !best || held(best, now) || !prefers(best, cur))
			return 0;
		switch_active(n, s, best, "preempt: the network prefers it (the oldest live one)");
		return 1;
	}
	if (!best) {
		if (cur)
			return 0; /* nobody better: the lapsed active keeps the role */
		for (size_t i = 0; i < s->n_conns; i++)
			if (is_candidate(s->conns[i], n) && (!best || prefers(s->conns[i], best)))
				best = s->conns[i];
		switch_active(n, s, best, "no active connector (none is live yet)");
		return 1;
	}
	if (cur && cur->ha.dropped)
		snprintf(why, sizeof(why), "the long-poll connection of %s closed", cur->id);
	else if (cur)
		snprintf(why, sizeof(why), "the lease of %s ran out (no request for %lld ms)",
			 cur->id, (long long)(now - cur->ha.last_contact_ms));
	else if (n->ha.active[0])
		snprintf(why, sizeof(why), "%s is no longer live (disabled, revoked or moved)",
			 n->ha.active);
	else
		snprintf(why, sizeof(why), "no active connector yet");
	switch_active(n, s, best, why);
	return 1;
}

/* The position of network `id` in the store, or SIZE_MAX; `hint` is the last answer
 * (a fleet's connectors come in runs of one network). */
static size_t net_pos(const struct ctl_store *s, const char *id, size_t *hint)
{
	if (*hint < s->n_nets && !strcmp(s->nets[*hint]->id, id))
		return *hint;
	for (size_t j = 0; j < s->n_nets; j++)
		if (!strcmp(s->nets[j]->id, id))
			return *hint = j;
	return SIZE_MAX;
}

static void arm(struct ctl_ctx *ctx)
{
	struct ctl_ha *h = ctx->ha;
	const struct ctl_store *s = &ctx->store;
	struct itimerspec its = {0};
	int64_t now = now_mono_ms(), min = INT64_MAX;
	size_t *cand, hint = 0;

	if (!h)
		return;
	if (h->kick)
		min = now;
	/* each network's candidates counted in one pass (ha_enabled per connector would
	 * walk the fleet once per connector: 10^8 steps per commit at 10,000) */
	cand = calloc(s->n_nets ? s->n_nets : 1, sizeof(*cand));
	if (!cand) {
		log_err("ha: out of memory arming the lease timer; it stays as it was");
		return;
	}
	for (size_t i = 0; i < s->n_conns; i++) {
		size_t j = net_pos(s, s->conns[i]->network_id, &hint);
		if (j != SIZE_MAX && conn_state(s->conns[i]) == CONN_ENROLLED)
			cand[j]++;
	}
	for (size_t i = 0; i < s->n_conns; i++) {
		const struct ctl_connector *c = s->conns[i];
		size_t j = net_pos(s, c->network_id, &hint);
		if (conn_state(c) != CONN_ENROLLED || j == SIZE_MAX || cand[j] < 2)
			continue;
		if (!c->ha.lapsed && alive(c, now) && c->ha.lease_until_ms < min)
			min = c->ha.lease_until_ms;
		if (held(c, now) && c->ha.hold_until_ms < min)
			min = c->ha.hold_until_ms;
	}
	if (min != INT64_MAX) {
		if (min < 1)
			min = 1;
		its.it_value.tv_sec = min / 1000;
		its.it_value.tv_nsec = (min % 1000) * 1000000;
	}
	free(cand);
	if (timerfd_settime(h->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_err("ha: timerfd_settime: %s", strerror(errno));
}

int ha_elect(struct ctl_ctx *ctx)
{
	int64_t now = now_mono_ms();
	int changed = 0;

	for (size_t i = 0; i < ctx->store.n_nets; i++)
		changed += elect_one(&ctx->store, ctx->store.nets[i], now);
	arm(ctx);
	return changed;
}

int ha_start(struct ctl_ctx *ctx, mg_err *e)
{
	struct ctl_ha *h = calloc(1, sizeof(*h));
	struct epoll_event ev = {.events = EPOLLIN};
	int64_t now = now_mono_ms();

	if (!h)
		return mg_err_set(e, "out of memory");
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ev.data.ptr = NULL; /* NULL: the timer; a waiter otherwise */
	if (h->epfd < 0 || h->tfd < 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->tfd, &ev) < 0) {
		mg_err_set(e, "ha: epoll/timerfd: %s", strerror(errno));
		if (h->epfd >= 0)
			close(h->epfd);
		if (h->tfd >= 0)
			close(h->tfd);
		free(h);
		return -1;
	}
	ctx->ha = h;
	for (size_t i = 0; i < ctx->store.n_conns; i++) {
		struct ctl_connector *c = ctx->store.conns[i];
		const struct ctl_network *n = store_find_net(&ctx->store, c->network_id);
		int64_t lease = n ? n->ha.lease_ms : HA_LEASE_MS_DEFAULT;
		c->ha.lease_until_ms = now + 2 * lease;
		c->ha.last_contact_ms = now;
	}
	ha_elect(ctx);
	return 0;
}

void ha_stop(struct ctl_ctx *ctx)
{
	if (!ctx->ha)
		return;
	close(ctx->ha->epfd);
	close(ctx->ha->tfd);
	free(ctx->ha);
	ctx->ha = NULL;
}

int ha_fd(const struct ctl_ctx *ctx)
{
	return ctx->ha ? ctx->ha->epfd : -1;
}

void ha_run(struct ctl_ctx *ctx)
{
	struct epoll_event evs[32];
	mg_err e = {""};
	int n;

	if (!ctx->ha)
		return;
	n = epoll_wait(ctx->ha->epfd, evs, (int)MG_ARRAY_SIZE(evs), 0);
	for (int i = 0; i < n; i++) {
		struct ctl_waiter *w = evs[i].data.ptr;
		uint64_t ticks;

		if (!w) {
			if (read(ctx->ha->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_err("ha: timerfd read: %s", strerror(errno));
			continue;
		}
		/* the agent closed its long-poll while it waited: it is gone (or restarting) */
		if (w->conn && w->linked) {
			struct ctl_connector *c = w->conn;
			c->ha.dropped = true;
			w->dropped = true;
			log_debug("connector %s: long-poll connection closed while waiting", c->id);
			longpoll_unlink(w);
			MHD_resume_connection(w->mc); /* answered with a close (api_agent.c) */
			ctx->resumed = true;
		}
	}
	ctx->ha->kick = false;
	if (ha_elect(ctx) > 0) {
		/* a role is the network's: its row is all there is to save (every document
		 * shows the roles: ctl_commit renders them all) */
		if (!ctx->eager_render)
			store_touch_nets(&ctx->store);
		if (ctl_commit(ctx, &e) < 0)
			log_err("ha: %s", e.msg);
	}
}

void ha_renew(struct ctl_ctx *ctx, struct ctl_connector *c)
{
	const struct ctl_network *n = store_find_net(&ctx->store, c->network_id);
	int64_t now = now_mono_ms();
	bool back = c->ha.lapsed;

	c->ha.lease_until_ms = now + (n ? n->ha.lease_ms : HA_LEASE_MS_DEFAULT);
	c->ha.last_contact_ms = now;
	c->ha.dropped = false;
	if (!back)
		return;
	c->ha.lapsed = false;
	if (n && ha_enabled(&ctx->store, n)) {
		c->ha.hold_until_ms = now + n->ha.hold_down_ms;
		log_info("connector %s (%s) of network %s is back; held back from the active role "
			 "for %lld ms",
			 c->id, c->name, n->id, (long long)n->ha.hold_down_ms);
	}
	if (ctx->ha) {
		ctx->ha->kick = true; /* it may be the only one live now */
		arm(ctx);
	}
}

int64_t ha_longpoll_deadline(const struct ctl_ctx *ctx, const struct ctl_connector *c,
			     int64_t deadline_ms)
{
	const struct ctl_network *n = store_find_net(&ctx->store, c->network_id);
	int64_t cap;

	if (!ha_enabled(&ctx->store, n))
		return deadline_ms;
	cap = now_mono_ms() + n->ha.lease_ms / 3;
	return cap < deadline_ms ? cap : deadline_ms;
}

void ha_watch(struct ctl_waiter *w)
{
	const union MHD_ConnectionInfo *ci;
	struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLONESHOT};

	if (!w->ctx || !w->ctx->ha || w->watched)
		return;
	ci = MHD_get_connection_info(w->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	ev.data.ptr = w;
	w->fd = ci->connect_fd;
	if (epoll_ctl(w->ctx->ha->epfd, EPOLL_CTL_ADD, w->fd, &ev) == 0)
		w->watched = true;
	else
		log_debug("ha: cannot watch a long-poll socket: %s", strerror(errno));
}

void ha_unwatch(struct ctl_waiter *w)
{
	if (!w->watched)
		return;
	w->watched = false;
	if (w->ctx && w->ctx->ha)
		epoll_ctl(w->ctx->ha->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

bool ha_routes_subnets(const struct ctl_store *s, const struct ctl_connector *c)
{
	const struct ctl_network *n = store_find_net(s, c->network_id);

	return !n || !n->ha.active[0] || !strcmp(n->ha.active, c->id);
}

/* A next-hop identity from a status report: short, printable, no spaces. */
static bool target_ok(const cJSON *v)
{
	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= 128)
		return false;
	for (const unsigned char *p = (const unsigned char *)v->valuestring; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

static cJSON *peers_json(const struct ctl_store *s, const struct ctl_connector *me)
{
	static const char *const keys[HA_MAX_TARGETS] = {"instance", "nic", "private_ip"};
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < s->n_conns; i++) {
		const struct ctl_connector *c = s->conns[i];
		const cJSON *cl =
		    c->status ? cJSON_GetObjectItemCaseSensitive(c->status, "cloud") : NULL;
		cJSON *o, *t;

		if (c == me || !c->enrolled || strcmp(c->network_id, me->network_id))
			continue;
		if (cJSON_GetArraySize(a) >= HA_MAX_PEERS)
			break; /* what the agent takes (CONFIG_MAX_HA_PEERS) */
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(a, o) || !cJSON_AddStringToObject(o, "id", c->id) ||
		    !(t = cJSON_AddArrayToObject(o, "targets"))) {
			cJSON_Delete(a);
			return NULL;
		}
		for (size_t k = 0; cJSON_IsObject(cl) && k < HA_MAX_TARGETS; k++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(cl, keys[k]);
			cJSON *sv;
			if (!target_ok(v))
				continue;
			sv = cJSON_CreateString(v->valuestring);
			if (!sv || !cJSON_AddItemToArray(t, sv)) {
				cJSON_Delete(sv);
				cJSON_Delete(a);
				return NULL;
			}
		}
	}
	return a;
}

int ha_render(const struct ctl_store *s, const struct ctl_connector *c, cJSON *doc)
{
	const struct ctl_network *n = store_find_net(s, c->network_id);
	cJSON *o, *peers;

	if (!ha_enabled(s, n))
		return 0;
	o = cJSON_AddObjectToObject(doc, "ha");
	if (!o ||
	    !cJSON_AddStringToObject(o, "role", ha_routes_subnets(s, c) ? "active" : "standby") ||
	    !cJSON_AddNumberToObject(o, "epoch", (double)n->ha.epoch) ||
	    !cJSON_AddNumberToObject(o, "lease_ms", (double)n->ha.lease_ms))
		return -1;
	peers = peers_json(s, c);
	if (!peers || !cJSON_AddItemToObject(o, "peers", peers)) {
		cJSON_Delete(peers);
		return -1;
	}
	return 0;
}

int ha_conn_json(const struct ctl_store *s, const struct ctl_connector *c, cJSON *o)
{
	const struct ctl_network *n = store_find_net(s, c->network_id);
	int64_t now = now_mono_ms();
	cJSON *h;

	if (conn_state(c) != CONN_ENROLLED || !n)
		return cJSON_AddNullToObject(o, "ha") ? 0 : -1;
	h = cJSON_AddObjectToObject(o, "ha");
	if (!h || !cJSON_AddBoolToObject(h, "enabled", ha_enabled(s, n)) ||
	    !cJSON_AddStringToObject(h, "role", ha_routes_subnets(s, c) ? "active" : "standby") ||
	    !cJSON_AddNumberToObject(h, "epoch", (double)n->ha.epoch) ||
	    !cJSON_AddBoolToObject(h, "live", alive(c, now)) ||
	    !cJSON_AddNumberToObject(h, "lease_expires_in_ms",
				     (double)(alive(c, now) ? c->ha.lease_until_ms - now : 0)) ||
	    !cJSON_AddNumberToObject(h, "held_back_ms",
				     (double)(held(c, now) ? c->ha.hold_until_ms - now : 0)))
		return -1;
	return 0;
}

void ha_net_defaults(struct ctl_ha_net *h)
{
	memset(h, 0, sizeof(*h));
	h->lease_ms = HA_LEASE_MS_DEFAULT;
	h->hold_down_ms = HA_HOLD_DOWN_MS_DEFAULT;
}

int ha_net_from_json(struct ctl_ha_net *h, const cJSON *j, bool store, mg_err *e)
{
	static const char *const api_keys[] = {"preempt", "lease_ms", "hold_down_ms", NULL};
	static const char *const store_keys[] = {
	    "preempt", "lease_ms", "hold_down_ms", "epoch", "active", "active_since", NULL};
	struct ctl_ha_net v = *h;

	if (jsonu_only_keys(j, store ? store_keys : api_keys, "ha", e) < 0 ||
	    jsonu_get_bool(j, "preempt", false, &v.preempt, e) < 0 ||
	    jsonu_get_int(j, "lease_ms", false, HA_LEASE_MS_MIN, HA_LEASE_MS_MAX, &v.lease_ms, e) <
		0 ||
	    jsonu_get_int(j, "hold_down_ms", false, 0, HA_HOLD_DOWN_MS_MAX, &v.hold_down_ms, e) < 0)
		return mg_err_prefix(e, "\"ha\"");
	if (store &&
	    (jsonu_get_int(j, "epoch", false, 0, INT64_MAX / 2, &v.epoch, e) < 0 ||
	     jsonu_copy_str(j, "active", false, v.active, sizeof(v.active), e) < 0 ||
	     jsonu_get_int(j, "active_since", false, 0, INT64_MAX / 2, &v.active_since, e) < 0))
		return mg_err_prefix(e, "\"ha\"");
	if (v.active[0] && (strlen(v.active) != CTL_ID_LEN || strncmp(v.active, "c-", 2)))
		return mg_err_set(e, "\"ha\".active \"%s\" is not a connector id", v.active);
	*h = v;
	return 0;
}

bool ha_net_to_json(cJSON *o, const struct ctl_ha_net *h)
{
	cJSON *j = cJSON_AddObjectToObject(o, "ha");

	return j && cJSON_AddBoolToObject(j, "preempt", h->preempt) &&
	       cJSON_AddNumberToObject(j, "lease_ms", (double)h->lease_ms) &&
	       cJSON_AddNumberToObject(j, "hold_down_ms", (double)h->hold_down_ms) &&
	       cJSON_AddNumberToObject(j, "epoch", (double)h->epoch) &&
	       cJSON_AddStringToObject(j, "active", h->active) &&
	       cJSON_AddNumberToObject(j, "active_since", (double)h->active_since);
}

enum MHD_Result api_connector_drain(struct req *r)
{
	struct ctl_ctx *ctx = r->ctx;
	struct ctl_network *n = store_find_net(&ctx->store, r->id);
	struct ctl_connector *c = store_find_conn(&ctx->store, r->id2), *to;
	int64_t now = now_mono_ms();
	mg_err e = {""};
	char why[128];
	cJSON *out;

	if (!n)
		return reply_error(r, 404, "not_found", "no network %s", r->id);
	if (!c || strcmp(c->network_id, n->id))
		return reply_error(r, 404, "not_found", "no connector %s in network %s", r->id2,
				   n->id);
	if (conn_state(c) != CONN_ENROLLED)
		return reply_error(r, 409, "connector_not_live", "connector %s is %s", c->id,
				   conn_state_name(conn_state(c)));
	if (!strcmp(n->ha.active, c->id)) {
		to = best_live(&ctx->store, n, c, now);
		if (!to)
			return reply_error(r, 409, "no_standby",
					   "no live standby connector in network %s to take over "
					   "from %s",
					   n->id, c->id);
		snprintf(why, sizeof(why), "%s was drained by the admin", c->id);
		switch_active(n, &ctx->store, to, why);
	}
	/* held back, so that preempt does not hand the role straight back */
	c->ha.hold_until_ms = now + n->ha.hold_down_ms;
	if (ctl_commit(ctx, &e) < 0)
		return reply_commit_failed(r, &e);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "network_id", n->id) ||
	    !cJSON_AddStringToObject(out, "drained", c->id) ||
	    !cJSON_AddStringToObject(out, "active", n->ha.active) ||
	    !cJSON_AddNumberToObject(out, "epoch", (double)n->ha.epoch)) {
		cJSON_Delete(out);
		return reply_oom(r);
	}
	return reply_json(r, 200, out);
}

/* The next hop `peers_json` names for a connector, from one status document, is the same. */
static bool same_targets(const cJSON *a, const cJSON *b)
{
	static const char *const keys[HA_MAX_TARGETS] = {"instance", "nic", "private_ip"};
	const cJSON *ca = a ? cJSON_GetObjectItemCaseSensitive(a, "cloud") : NULL;
	const cJSON *cb = b ? cJSON_GetObjectItemCaseSensitive(b, "cloud") : NULL;

	for (size_t k = 0; k < HA_MAX_TARGETS; k++) {
		const cJSON *va =
		    cJSON_IsObject(ca) ? cJSON_GetObjectItemCaseSensitive(ca, keys[k]) : NULL;
		const cJSON *vb =
		    cJSON_IsObject(cb) ? cJSON_GetObjectItemCaseSensitive(cb, keys[k]) : NULL;
		bool oa = target_ok(va), ob = target_ok(vb);
		if (oa != ob || (oa && strcmp(va->valuestring, vb->valuestring)))
			return false;
	}
	return true;
}

void ha_touch_peers(struct ctl_ctx *ctx, struct ctl_connector *c, const cJSON *old_status)
{
	const struct ctl_network *n = store_find_net(&ctx->store, c->network_id);

	if (!n || !ha_enabled(&ctx->store, n) || same_targets(old_status, c->status))
		return; /* most reports: nothing the others' configs show has changed */
	for (size_t i = 0; i < ctx->store.n_conns; i++) {
		struct ctl_connector *o = ctx->store.conns[i];
		if (o != c && !strcmp(o->network_id, c->network_id))
			store_touch_conn(&ctx->store, o);
	}
}
