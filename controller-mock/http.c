/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd glue: TLS daemon on an external epoll loop (signalfd for SIGINT and
 * SIGTERM, timerfd for the earliest long-poll deadline), routing, body caps, replies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "cmetrics.h"
#include "ha.h"
#include "http.h"
#include "hub.h"
#include "jsonu.h"
#include "log.h"
#include "utf8.h"

enum auth { AUTH_ADMIN, AUTH_NONE };

struct route {
	const char *seg[5]; /* "*" matches one id segment */
	const char *method;
	enum MHD_Result (*fn)(struct req *r);
	enum auth auth;
};

static const struct route routes[] = {
    {{"networks"}, "GET", api_networks_list, AUTH_ADMIN},
    {{"networks"}, "POST", api_networks_create, AUTH_ADMIN},
    {{"networks", "*"}, "GET", api_network_get, AUTH_ADMIN},
    {{"networks", "*"}, "PATCH", api_network_patch, AUTH_ADMIN},
    {{"networks", "*", "connectors"}, "POST", api_connector_create, AUTH_ADMIN},
    {{"networks", "*", "connectors", "*", "drain"}, "POST", api_connector_drain, AUTH_ADMIN},
    {{"connectors"}, "GET", api_connectors_list, AUTH_ADMIN},
    {{"connectors", "*"}, "GET", api_connector_get, AUTH_ADMIN},
    {{"connectors", "*"}, "DELETE", api_connector_delete, AUTH_ADMIN},
    {{"connectors", "*", "disable"}, "POST", api_connector_disable, AUTH_ADMIN},
    {{"connectors", "*", "enable"}, "POST", api_connector_enable, AUTH_ADMIN},
    {{"users"}, "GET", api_users_list, AUTH_ADMIN},
    {{"users"}, "POST", api_user_create, AUTH_ADMIN},
    {{"users", "*"}, "DELETE", api_user_delete, AUTH_ADMIN},
    {{"users", "*"}, "GET", api_user_get, AUTH_ADMIN},
    {{"users", "*"}, "PATCH", api_user_patch, AUTH_ADMIN},
    {{"users", "*", "disable"}, "POST", api_user_disable, AUTH_ADMIN},
    {{"users", "*", "enable"}, "POST", api_user_enable, AUTH_ADMIN},
    {{"users", "*", "config"}, "GET", api_user_config, AUTH_ADMIN},
    {{"hub"}, "GET", api_hub, AUTH_ADMIN},
    {{"enroll"}, "POST", api_enroll, AUTH_NONE},
    {{"device", "config"}, "GET", api_device_config, AUTH_NONE},
    {{"device", "status"}, "POST", api_device_status, AUTH_NONE},
};

#define API_PREFIX "/api/v1/"
/* Bodies above CTL_BODY_MAX are read and discarded up to this many bytes. */
#define CTL_DISCARD_MAX (2 * CTL_BODY_MAX)

static bool same_path(const struct route *a, const struct route *b)
{
	for (int k = 0; k < 5; k++) {
		if (!a->seg[k] || !b->seg[k]) {
			if (a->seg[k] != b->seg[k])
				return false;
			break;
		}
		if (strcmp(a->seg[k], b->seg[k]))
			return false;
	}
	return true;
}

/* --- replies ------------------------------------------------------------------------- */

/*
 * Group commit: while a transaction holds changes not yet committed (store_pending), an
 * answer is not sent but kept, and its connection suspended; the loop commits once after
 * each MHD_run and then releases the kept answers (release_deferred). So no answer, of a
 * change or of a read that saw one, leaves before the change is on disk, and the API
 * calls of one turn share one fsync.
 */
static struct req *deferred_head;

static enum MHD_Result defer(struct req *r, unsigned status, struct MHD_Response *resp)
{
	r->deferred = resp;
	r->deferred_status = status;
	r->deferred_next = deferred_head;
	deferred_head = r;
	r->answered = true;
	MHD_suspend_connection(r->mc);
	return MHD_YES;
}

static size_t release_deferred(struct ctl_ctx *ctx)
{
	size_t n = 0;

	while (deferred_head) {
		struct req *r = deferred_head;
		deferred_head = r->deferred_next;
		r->deferred_next = NULL;
		MHD_resume_connection(r->mc);
		n++;
	}
	if (n)
		ctx->resumed = true;
	return n;
}

static enum MHD_Result reply_error_v(struct req *r, unsigned status, const char *code,
				     const char *msg);

/* Resumed after the commit: send the kept answer, or 500 if the commit failed. */
static enum MHD_Result send_deferred(struct req *r)
{
	struct MHD_Response *resp = r->deferred;
	enum MHD_Result res;

	r->deferred = NULL;
	if (r->ctx->failed) {
		MHD_destroy_response(resp);
		return reply_error_v(r, 500, "storage_error",
				     "could not persist the change; the controller stops");
	}
	res = MHD_queue_response(r->mc, r->deferred_status, resp);
	MHD_destroy_response(resp);
	return res;
}

/* Queue `resp` (taken) with the common headers. */
static enum MHD_Result queue_resp(struct req *r, unsigned status, struct MHD_Response *resp,
				  const char *ctype, const char *etag)
{
	enum MHD_Result res;

	if (!resp)
		return MHD_NO;
	if ((ctype && MHD_add_response_header(resp, "Content-Type", ctype) != MHD_YES) ||
	    (etag && MHD_add_response_header(resp, "ETag", etag) != MHD_YES) ||
	    MHD_add_response_header(resp, "Cache-Control", "no-store") != MHD_YES ||
	    (status == 401 &&
	     MHD_add_response_header(resp, "WWW-Authenticate", "Bearer") != MHD_YES) ||
	    (r->busy && (MHD_add_response_header(resp, "Connection", "close") != MHD_YES ||
			 MHD_add_response_header(resp, "Retry-After", "5") != MHD_YES))) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	if (status == 405 && r->route >= 0) {
		char allow[64] = "";
		const struct route *rt = &routes[r->route];
		for (size_t i = 0; i < MG_ARRAY_SIZE(routes); i++)
			if (same_path(&routes[i], rt)) {
				size_t o = strlen(allow);
				snprintf(allow + o, sizeof(allow) - o, "%s%s", o ? ", " : "",
					 routes[i].method);
			}
		MHD_add_response_header(resp, "Allow", allow);
	}
	if (store_pending(&r->ctx->store) && !r->ctx->failed)
		return defer(r, status, resp);
	res = MHD_queue_response(r->mc, status, resp);
	MHD_destroy_response(resp);
	cmetrics_count_status(status);
	r->answered = true;
	log_debug("%s %s -> %u", r->method, r->route >= 0 ? routes[r->route].seg[0] : "(unrouted)",
		  status);
	return res;
}

static enum MHD_Result queue(struct req *r, unsigned status, const char *body, size_t len,
			     const char *ctype, const char *etag)
{
	return queue_resp(r, status,
			  MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY),
			  ctype, etag);
}

/* microhttpd's free callback for answers that carry a secret. */
static void free_wiped(void *p)
{
	if (p) {
		OPENSSL_cleanse(p, strlen(p));
		cJSON_free(p);
	}
}

void json_wipe_strings(cJSON *j)
{
	for (cJSON *it = j; it; it = it->next) {
		if (cJSON_IsString(it) && it->valuestring)
			OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
		json_wipe_strings(it->child);
	}
}

enum MHD_Result reply_plain(struct req *r, unsigned status, const char *body, size_t len,
			    const char *ctype)
{
	return queue(r, status, body, len, ctype, NULL);
}

enum MHD_Result reply_oom(struct req *r)
{
	static const char body[] =
	    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
	return queue(r, 500, body, sizeof(body) - 1, "application/json", NULL);
}

/*
 * Every JSON answer leaves through here (reply_oom's constant aside), so that every body
 * is valid JSON: text that is not well-formed UTF-8 (an id, a method or a field name
 * echoed from the request, a message cut inside a character, a name stored by an older
 * version) has each stray byte replaced by the escape \ufffd. Takes `txt` (freed with
 * cJSON_free; wiped first when `secret`, and then sent from without a copy).
 */
static enum MHD_Result queue_json(struct req *r, unsigned status, char *txt, bool secret,
				  const char *etag)
{
	size_t len = strlen(txt);
	struct MHD_Response *resp;

	if (!utf8_valid(txt, len)) {
		size_t n = utf8_json_repaired_len(txt, len);
		char *fixed = cJSON_malloc(n + 1);

		if (fixed)
			utf8_json_repair(txt, len, fixed);
		if (secret)
			OPENSSL_cleanse(txt, len);
		cJSON_free(txt);
		if (!fixed)
			return reply_oom(r);
		txt = fixed;
		len = n;
	}
	if (!secret) {
		resp = MHD_create_response_from_buffer(len, txt, MHD_RESPMEM_MUST_COPY);
		cJSON_free(txt);
		return queue_resp(r, status, resp, "application/json", etag);
	}
	/* no copy: microhttpd sends this buffer and hands it back to free_wiped */
	resp = MHD_create_response_from_buffer_with_free_callback(len, txt, free_wiped);
	if (!resp) {
		free_wiped(txt);
		return reply_oom(r);
	}
	return queue_resp(r, status, resp, "application/json", etag);
}

enum MHD_Result reply_text(struct req *r, unsigned status, char *txt, const char *etag)
{
	return queue_json(r, status, txt, false, etag);
}

enum MHD_Result reply_json(struct req *r, unsigned status, cJSON *j)
{
	char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!txt)
		return reply_oom(r);
	return reply_text(r, status, txt, NULL);
}

enum MHD_Result reply_json_secret(struct req *r, unsigned status, cJSON *j)
{
	char *txt = j ? cJSON_PrintUnformatted(j) : NULL;

	json_wipe_strings(j);
	cJSON_Delete(j);
	if (!txt)
		return reply_oom(r);
	return queue_json(r, status, txt, true, NULL);
}

enum MHD_Result reply_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_error_v(r, status, code, msg);
}

static enum MHD_Result reply_error_v(struct req *r, unsigned status, const char *code,
				     const char *msg)
{
	cJSON *j = cJSON_CreateObject(), *err;

	err = j ? cJSON_AddObjectToObject(j, "error") : NULL;
	if (!err || !cJSON_AddStringToObject(err, "code", code) ||
	    !cJSON_AddStringToObject(err, "message", msg)) {
		cJSON_Delete(j);
		return reply_oom(r);
	}
	if (status >= 500)
		log_err("%s: %s", code, msg);
	return reply_json(r, status, j);
}

enum MHD_Result reply_empty(struct req *r, unsigned status, const char *etag)
{
	return queue(r, status, "", 0, NULL, etag);
}

enum MHD_Result reply_commit_failed(struct req *r, mg_err *e)
{
	return reply_error(r, 500, "storage_error",
			   "could not persist the change (%s); the controller stops", e->msg);
}

cJSON *req_json(struct req *r, enum MHD_Result *res)
{
	mg_err e = {0};
	cJSON *j;

	/* JSON text is UTF-8 (RFC 8259): refused here, for every route, rather than stored */
	if (r->body && !utf8_valid(r->body, r->len)) {
		*res = reply_error(r, 400, "invalid_json", "the body is not valid UTF-8");
		return NULL;
	}
	j = jsonu_parse(r->body ? r->body : "", r->len, CTL_BODY_MAX, &e);
	if (!j)
		*res = reply_error(r, 400, "invalid_json", "%s", e.msg);
	return j;
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, name);
}

const char *req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->mc, MHD_GET_ARGUMENT_KIND, name);
}

/*
 * libmicrohttpd 0.9.75 parses the header block in place and hands out values cut at
 * their first NUL byte: "Bearer <token>\0junk" reads as "Bearer <token>". It tells
 * neither the cut nor the line's length, but every key and value points into the one
 * request buffer, in the order received, and MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE
 * gives where the block ends. A value whose line was read whole ends exactly at its CR
 * LF: two bytes before the next header's name, or four before the end of the block (the
 * empty line) when it is the last. Anything in between is bytes we were not shown, and
 * the header is refused. Should a later library lay the buffer out otherwise, this
 * refuses (401), it never accepts more.
 */
struct auth_scan {
	const char *value, *next;
	size_t len;
	unsigned count;
	bool want_next;
};

static enum MHD_Result auth_scan_one(void *cls, enum MHD_ValueKind kind, const char *key,
				     size_t key_size, const char *value, size_t value_size)
{
	struct auth_scan *a = cls;

	(void)kind;
	if (a->want_next) {
		a->next = key;
		a->want_next = false;
	}
	if (key_size == 13 && !strncasecmp(key, "Authorization", 13)) {
		a->count++;
		a->value = value;
		a->len = value ? value_size : 0;
		a->want_next = true;
	}
	return MHD_YES;
}

/*
 * The token is exactly the bytes after "Bearer " (one space, RFC 6750): nothing is
 * trimmed or skipped, so that the comparison sees what was sent. Refused: a second
 * Authorization header, an empty token, any byte that is not visible ASCII (a space, a
 * tab, a control, anything above 0x7e: no token has those) and a line with bytes after
 * a NUL (see above).
 */
const char *req_bearer(struct req *r, size_t *len)
{
	struct auth_scan a = {0};
	const char *tok, *end;
	size_t n;

	MHD_get_connection_values_n(r->mc, MHD_HEADER_KIND, auth_scan_one, &a);
	if (a.count != 1 || !a.value || a.len <= 7 || strncasecmp(a.value, "Bearer ", 7))
		return NULL;
	end = a.value + a.len;
	if (a.want_next) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
		if (!ci || ci->header_size < 4)
			return NULL;
		a.next = r->method + ci->header_size - 2;
	}
	if (!a.next || a.next < end || a.next - end != 2)
		return NULL;
	tok = a.value + 7;
	n = a.len - 7;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f)
			return NULL;
	*len = n;
	return tok;
}

/* --- commit ------------------------------------------------------------------------ */

/* A request that declared the few connectors it changed (store_touch_conn) can have
 * set `wake` only on those: they are all that is looked at then. Those few are rendered
 * at once; a change that may touch more (a network's, a role's, an undeclared one) only
 * marks them stale and queues their waiters: longpoll_pump renders each before answering
 * it (render_settle), a batch per loop turn, so the change's own turn stays short. */
#define COMMIT_FEW 16

int ctl_commit(struct ctl_ctx *ctx, mg_err *e)
{
	struct ctl_connector *few[COMMIT_FEW], *const *touched;
	int64_t t0 = now_mono_ms();
	mg_err he = {0};
	int marked = 0;
	bool lazy;

	/* roles first: they are part of every config rendered. A change of role is the
	 * network's (its active connector and epoch: connectors keep theirs in memory only):
	 * the networks are saved besides what the request declared (nothing declared: all),
	 * and every document rendered (eager: save all, as before lazy rendering) */
	if (ha_elect(ctx) > 0) {
		if (ctx->eager_render || !store_declared(&ctx->store))
			store_touch_all(&ctx->store);
		else
			store_touch_nets(&ctx->store); /* added to what the request declared */
	}
	size_t n = store_touched(&ctx->store, &touched);
	lazy = !ctx->eager_render && (n == 0 || n > COMMIT_FEW);
	if (ctx->eager_render && n == 0)
		store_touch_all(&ctx->store); /* every bumped version is saved in this turn */
	for (size_t i = 0; lazy && marked == 0 && i < (n ? n : ctx->store.n_conns); i++) {
		struct ctl_connector *c = n ? touched[i] : ctx->store.conns[i];
		marked = render_mark(ctx, c, e) < 0 ? -1 : 0;
		if (c->stale && c->waiters)
			longpoll_wake(c);
	}
	if (n > COMMIT_FEW)
		n = 0; /* many: the whole list below */
	if (n)
		memcpy(few, touched, n * sizeof(*few));
	if (marked < 0 || (!lazy && render_refresh(ctx, e) < 0) ||
	    store_save(&ctx->store, ctx->store_path, e) < 0) {
		log_err("store: %s; stopping so that nothing unsaved is served", e->msg);
		ctx->quit = true;
		ctx->failed = true;
		return -1;
	}
	for (size_t i = 0; i < (n ? n : ctx->store.n_conns); i++) {
		struct ctl_connector *c = n ? few[i] : ctx->store.conns[i];
		if (c->wake) {
			c->wake = false;
			c->wake_all = c->waiters != NULL; /* cleared when they are resumed */
			cmetrics_count_push();
			longpoll_wake(c);
		}
	}
	if (hub_sync(ctx, &he) < 0)
		log_err("%s", he.msg);
	if (now_mono_ms() - t0 >= 20) /* where a slow turn went (bench_fleet) */
		log_debug("commit: %lld ms (%s, %zu connectors declared)",
			  (long long)(now_mono_ms() - t0), lazy ? "lazy" : "eager", n);
	return 0;
}

int ctl_settle(struct ctl_ctx *ctx, struct ctl_connector *c, mg_err *e)
{
	int r = render_settle(ctx, c, false, e);

	if (r <= 0)
		return r;
	cmetrics_count_push();
	if (c->waiters)
		longpoll_wake(c); /* another long-poll of it: answered with the new version */
	if (store_save(&ctx->store, ctx->store_path, e) < 0) {
		log_err("store: %s; stopping so that nothing unsaved is served", e->msg);
		ctx->quit = true;
		ctx->failed = true;
		return -1;
	}
	return r;
}

/* --- connections ------------------------------------------------------------------ */

/* Per connection: whether it counts against the agents' share (http_start). */
struct ctl_sock {
	bool agent;
};

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct ctl_ctx *ctx = cls;
	struct ctl_sock *sk = *socket_context;

	(void)mc;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct ctl_sock)); /* NULL: turned away */
		return;
	}
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (sk && sk->agent && ctx->agent_connections)
			ctx->agent_connections--;
		free(sk);
		*socket_context = NULL;
	}
}

/* An agent request: admit its connection to the agents' share, or false when full. */
static bool agent_admit(struct req *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct ctl_sock *sk = ci ? ci->socket_context : NULL;

	if (!sk)
		return false;
	if (sk->agent)
		return true;
	if (r->ctx->agent_connections >= r->ctx->max_connections)
		return false;
	sk->agent = true;
	r->ctx->agent_connections++;
	return true;
}

/* --- routing ------------------------------------------------------------------------ */

/* Returns the route index, or -1 (404), or -2 - index (405: path known, method not). */
static int route_match(const char *url, const char *method, char *id, char *id2, size_t idlen)
{
	char path[256], *seg[5], *save = NULL, *t;
	size_t n = 0;
	int path_hit = -1;

	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) || strlen(url) >= sizeof(path))
		return -1;
	snprintf(path, sizeof(path), "%s", url + strlen(API_PREFIX));
	if (!*path || path[strlen(path) - 1] == '/' || strstr(path, "//"))
		return -1;
	for (t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 5)
			return -1;
		seg[n++] = t;
	}
	for (size_t i = 0; i < MG_ARRAY_SIZE(routes); i++) {
		const struct route *rt = &routes[i];
		size_t k;
		int ids = 0;
		for (k = 0; k < 5; k++) {
			if (!rt->seg[k] || k >= n)
				break;
			if (strcmp(rt->seg[k], "*") && strcmp(rt->seg[k], seg[k]))
				break;
		}
		if (k != n || (k < 5 && rt->seg[k]))
			continue;
		for (k = 0; k < n; k++)
			if (!strcmp(rt->seg[k], "*"))
				snprintf(ids++ ? id2 : id, idlen, "%s", seg[k]);
		if (!strcmp(rt->method, method))
			return (int)i;
		if (path_hit < 0)
			path_hit = (int)i;
	}
	return path_hit >= 0 ? -2 - path_hit : -1;
}

static bool admin_ok(struct req *r)
{
	size_t len;
	const char *tok = req_bearer(r, &len);
	return tok && secret_matches(tok, len, r->ctx->admin_hash);
}

static enum MHD_Result first_call(struct req *r, const char *url)
{
	const char *cl;
	int m = route_match(url, r->method, r->id, r->id2, sizeof(r->id));

	if (!strcmp(url, "/metrics")) { /* the controller's own metrics (cmetrics.c) */
		r->route = -1;
		if (strcmp(r->method, "GET"))
			return reply_error(r, 405, "method_not_allowed", "/metrics is GET only");
		if (!admin_ok(r))
			return reply_error(r, 401, "unauthorized",
					   "missing or wrong admin token (Authorization: Bearer "
					   "<token from admin.token>)");
		r->answered = true;
		return api_metrics(r);
	}
	if (m == -1) {
		r->route = -1;
		return reply_error(r, 404, "not_found", "no such API path");
	}
	if (m <= -2) {
		r->route = -2 - m;
		return reply_error(r, 405, "method_not_allowed", "%s is not allowed here",
				   r->method);
	}
	r->route = m;
	/* past the agents' share: turned away at once, which frees the slot; the admin API
	 * keeps its CTL_ADMIN_RESERVE connections */
	if (routes[m].auth == AUTH_NONE && !agent_admit(r)) {
		r->busy = true;
		return reply_error(r, 503, "busy",
				   "the controller serves at most %u agent connections; retry",
				   r->ctx->max_connections);
	}
	if (routes[m].auth == AUTH_ADMIN && !admin_ok(r))
		return reply_error(r, 401, "unauthorized",
				   "missing or wrong admin token (Authorization: Bearer <token "
				   "from admin.token>)");
	cl = req_header(r, "Content-Length");
	if (cl) {
		char *end;
		unsigned long long v = strtoull(cl, &end, 10);
		/* Far too large: answer now and close without reading it. Merely too
		 * large: discard it unbuffered and answer 413 after it, so that the
		 * client (still sending) reliably reads the answer. */
		if (*end || v > CTL_DISCARD_MAX)
			return reply_error(r, 413, "body_too_large",
					   "request bodies are limited to %u bytes", CTL_BODY_MAX);
		if (v > CTL_BODY_MAX)
			r->too_big = true;
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->ctx = cls;
		r->mc = mc;
		r->method = method;
		r->w.mc = mc;
		*con_cls = r;
		return first_call(r, url);
	}
	if (*upload_size) {
		r->received += *upload_size;
		if (r->received > CTL_DISCARD_MAX)
			return MHD_NO; /* streamed without end: drop the connection */
		if (!r->answered && !r->too_big) {
			if (r->len + *upload_size > CTL_BODY_MAX) {
				r->too_big = true;
				free(r->body);
				r->body = NULL;
				r->len = 0;
			} else {
				char *b = realloc(r->body, r->len + *upload_size + 1);
				if (!b)
					return MHD_NO;
				memcpy(b + r->len, upload_data, *upload_size);
				r->len += *upload_size;
				b[r->len] = '\0';
				r->body = b;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->deferred)
		return send_deferred(r);
	if (r->answered)
		return MHD_YES;
	if (r->too_big)
		return reply_error(r, 413, "body_too_large",
				   "request bodies are limited to %u bytes", CTL_BODY_MAX);
	return routes[r->route].fn(r);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (!r)
		return;
	longpoll_unlink(&r->w);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/*
 * Every connection is a descriptor: raise the soft RLIMIT_NOFILE to the hard limit, and
 * return how many connections fit in it (a margin is left for the store, the hub's
 * netlink sockets, the listener, epoll, signalfd and timerfd).
 */
#define CTL_FD_MARGIN 64
static unsigned fd_room(unsigned want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return want;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("raising the descriptor limit from %llu to %llu: %s",
				 (unsigned long long)old, (unsigned long long)rl.rlim_max,
				 strerror(errno));
			rl.rlim_cur = old;
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + CTL_FD_MARGIN) {
		unsigned fit =
		    rl.rlim_cur > CTL_FD_MARGIN + 16 ? (unsigned)(rl.rlim_cur - CTL_FD_MARGIN) : 16;
		log_warn("the descriptor limit (%llu, hard limit) holds %u connections, not %u: "
			 "raise LimitNOFILE= (systemd) or ulimit -Hn",
			 (unsigned long long)rl.rlim_cur, fit, want);
		return fit;
	}
	return want;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("microhttpd: %s", buf);
}

/* --- daemon and loop ---------------------------------------------------------------- */

int http_start(struct ctl_ctx *ctx, const char *listen, mg_err *e)
{
	char host[CONFIG_ENDPOINT_MAX];
	uint16_t port;
	uint8_t fam, addr[16];
	struct sockaddr_in6 sa6 = {0};
	struct sockaddr_in sa4 = {0};
	const struct sockaddr *sa;
	unsigned limit,
	    flags = MHD_USE_TLS | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (config_split_endpoint(listen, host, sizeof(host), &port) < 0 ||
	    addr_parse(host, &fam, addr) < 0)
		return mg_err_set(e, "--listen \"%s\" must be IPv4:PORT or [IPv6]:PORT", listen);
	if (fam == AF_INET6) {
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons(port);
		memcpy(&sa6.sin6_addr, addr, 16);
		sa = (const struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else {
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons(port);
		memcpy(&sa4.sin_addr, addr, 4);
		sa = (const struct sockaddr *)&sa4;
	}
	if (!ctx->max_connections)
		ctx->max_connections = CTL_MAX_CONNS_DEFAULT;
	limit = fd_room(ctx->max_connections + CTL_ADMIN_RESERVE);
	if (limit < ctx->max_connections + CTL_ADMIN_RESERVE)
		ctx->max_connections =
		    limit > 2 * CTL_ADMIN_RESERVE ? limit - CTL_ADMIN_RESERVE : limit / 2;
	ctx->lp_next_ms = INT64_MAX;
	ctx->lp_armed_ms = -1;
	/* no per-address limit: a NAT or a load generator puts thousands of connectors
	 * behind one address */
	ctx->mhd = MHD_start_daemon(
	    flags, port, NULL, NULL, on_request, ctx, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_HTTPS_MEM_KEY, ctx->tls_key_pem,
	    MHD_OPTION_HTTPS_MEM_CERT, ctx->tls_cert_pem, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	    ctx, MHD_OPTION_NOTIFY_CONNECTION, on_connection, ctx, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_LISTEN_BACKLOG_SIZE,
	    (unsigned)4096, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (!ctx->mhd)
		return mg_err_set(e,
				  "cannot serve HTTPS on %s (address in use or not on this "
				  "host? run with --log-level debug for details)",
				  listen);
	return 0;
}

static int setup_fds(struct ctl_ctx *ctx, int *sfd, mg_err *e)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return mg_err_set(e, "sigprocmask: %s", strerror(errno));
	*sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*sfd < 0)
		return mg_err_set(e, "signalfd: %s", strerror(errno));
	ctx->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ctx->timer_fd < 0)
		return mg_err_set(e, "timerfd_create: %s", strerror(errno));
	return 0;
}

/* Commit what this turn's requests changed, then let their answers go. */
static void flush(struct ctl_ctx *ctx)
{
	mg_err fe = {0};

	if (store_pending(&ctx->store) && store_flush(&ctx->store, &fe) < 0) {
		log_err("store: %s; stopping so that nothing unsaved is served", fe.msg);
		ctx->quit = true;
		ctx->failed = true;
	}
	release_deferred(ctx);
}

/* CPU time of this thread, ms: a turn's work, whatever else the machine runs (its wall
 * time also counts the time other processes had the CPU) */
static int64_t cpu_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return now_mono_ms();
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_serve(struct ctl_ctx *ctx, mg_err *e)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(ctx->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	struct pollfd fds[5];
	int64_t last_turn_ms = 0; /* the CPU time the last turn took */
	int sfd = -1;

	if (!di)
		return mg_err_set(e, "microhttpd has no epoll descriptor");
	if (setup_fds(ctx, &sfd, e) < 0)
		goto fail;
	fds[0] = (struct pollfd){.fd = di->epoll_fd, .events = POLLIN};
	fds[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	fds[2] = (struct pollfd){.fd = ctx->timer_fd, .events = POLLIN};
	fds[3] = (struct pollfd){.fd = ha_fd(ctx), .events = POLLIN};
	store_group(&ctx->store, true);
	while (!ctx->quit) {
		MHD_UNSIGNED_LONG_LONG to;
		int timeout = -1;

		if (MHD_get_timeout(ctx->mhd, &to) == MHD_YES)
			timeout = to > 60000 ? 60000 : (int)to;
		if (ctx->resumed)
			timeout = 0; /* resumed during the last MHD_run: serve them now */
		/* the hub's wireguard-go watch: its fd changes as the hub restarts it */
		fds[4] = (struct pollfd){.fd = hub_watch_fd(ctx), .events = POLLIN};
		if (poll(fds, 5, timeout) < 0) {
			if (errno == EINTR)
				continue;
			mg_err_set(e, "poll: %s", strerror(errno));
			goto fail;
		}
		int64_t turn_t0 = cpu_ms(); /* this turn's work, for longpoll_pump */
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				log_info("signal %u: shutting down", si.ssi_signo);
				ctx->quit = true;
			}
		}
		if (fds[2].revents & POLLIN) {
			uint64_t ticks;
			if (read(ctx->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN) {
				mg_err_set(e, "timerfd read: %s", strerror(errno));
				goto fail;
			}
			longpoll_expire(ctx);
		}
		if (fds[3].revents & POLLIN)
			ha_run(ctx); /* leases ran out, long-polls closed: failover */
		if (fds[4].revents & POLLIN)
			hub_watch_run(ctx); /* hub.h: supervision of its wireguard-go */
		/* this run serves every resume made so far; resumes made inside it (a
		 * handler's commit waking long-polls) set the flag again */
		ctx->resumed = false;
		int64_t t0 = now_mono_ms();
		if (MHD_run(ctx->mhd) != MHD_YES)
			log_debug("MHD_run reported an error");
		int64_t t1 = now_mono_ms();
		/* the next batch of wake-ups: rendered and saved into this turn's transaction,
		 * resumed now, answered in the next MHD_run (after the commit below) */
		bool more = longpoll_pump(ctx, last_turn_ms);
		int64_t t2 = now_mono_ms();
		flush(ctx);
		if (more)
			ctx->resumed = true;  /* more to wake: the next turn does not wait */
		if (now_mono_ms() - t0 >= 50) /* where a slow turn went (bench_fleet) */
			log_debug("slow loop turn: %lld ms serving, %lld ms rendering wake-ups, "
				  "%lld ms committing",
				  (long long)(t1 - t0), (long long)(t2 - t1),
				  (long long)(now_mono_ms() - t2));
		if (longpoll_arm(ctx, e) < 0)
			goto fail;
		last_turn_ms = cpu_ms() - turn_t0;
	}
	close(sfd);
	return 0;
fail:
	if (sfd >= 0)
		close(sfd);
	return -1;
}

void http_stop(struct ctl_ctx *ctx)
{
	if (!ctx->mhd)
		return;
	/* microhttpd refuses to stop with suspended connections: answer them first */
	if (longpoll_shutdown(ctx) + release_deferred(ctx)) {
		for (int i = 0; i < 5; i++) {
			MHD_run(ctx->mhd);
			flush(ctx);
		}
	}
	store_group(&ctx->store, false);
	MHD_stop_daemon(ctx->mhd);
	ctx->mhd = NULL;
	if (ctx->timer_fd >= 0)
		close(ctx->timer_fd);
	ctx->timer_fd = -1;
}
