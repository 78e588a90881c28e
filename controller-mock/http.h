/* SPDX-License-Identifier: MIT */
/* Internal interface between the HTTP glue (http.c) and the API handlers. */
#ifndef CTL_HTTP_H
#define CTL_HTTP_H

#include <microhttpd.h>

#include "ctl.h"

/* A suspended long-poll request, kept on its connector's list. */
struct ctl_waiter {
	struct ctl_waiter *next, *prev;
	struct ctl_connector *conn;
	struct ctl_ctx *ctx;
	struct MHD_Connection *mc;
	int64_t deadline_ms; /* CLOCK_MONOTONIC */
	int64_t if_none_match;
	bool linked;   /* on conn->waiters, connection suspended */
	bool started;  /* this request has waited at least once */
	bool shutdown; /* woken because the controller is stopping */
	bool watched;  /* its socket is on the HA watch list (ha.c) */
	bool dropped;  /* the agent closed the connection while it waited */
	int fd;        /* the socket, while watched */
};

struct req {
	struct ctl_ctx *ctx;
	struct MHD_Connection *mc;
	const char *method;
	int route;
	char id[CTL_ID_LEN + 8];
	char id2[CTL_ID_LEN + 8]; /* a second id in the path (networks/{id}/connectors/{id2}/...) */
	char *body;
	size_t len;
	size_t received; /* body bytes seen, kept or not */
	bool too_big;
	bool answered;
	bool busy; /* turned away (over the agents' connection share): close after it */
	/* an answer kept until the turn's commit (group commit, http.c) */
	struct MHD_Response *deferred;
	unsigned deferred_status;
	struct req *deferred_next;
	struct ctl_waiter w;
};

enum MHD_Result reply_json(struct req *r, unsigned status, cJSON *j);
enum MHD_Result reply_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum MHD_Result reply_empty(struct req *r, unsigned status, const char *etag);
/* Takes `txt` (freed with cJSON_free). */
enum MHD_Result reply_text(struct req *r, unsigned status, char *txt, const char *etag);
enum MHD_Result reply_oom(struct req *r);
/* A non-JSON answer (copied), e.g. the metrics text. */
enum MHD_Result reply_plain(struct req *r, unsigned status, const char *body, size_t len,
			    const char *ctype);
/* reply_json for an answer that carries a secret: the strings of `j`, the printed text
 * and the buffer microhttpd sends from are wiped before they are freed. */
enum MHD_Result reply_json_secret(struct req *r, unsigned status, cJSON *j);
/* Wipe every string value in `j` (a tree about to be freed that held a secret). */
void json_wipe_strings(cJSON *j);
/* Parse the body as a JSON object; NULL after replying 400 invalid_json. */
cJSON *req_json(struct req *r, enum MHD_Result *res);
/* The bearer token of the Authorization header (`len` bytes, not NUL-terminated at
 * `len`), or NULL when absent or not exactly "Bearer <token>". */
const char *req_bearer(struct req *r, size_t *len);
const char *req_header(struct req *r, const char *name);
const char *req_query(struct req *r, const char *name);

/* Persist the store, then wake the long-polls of every connector whose config changed,
 * then resync the hub. Fails only when the store cannot be written; the controller then
 * stops, since memory is ahead of disk. */
int ctl_commit(struct ctl_ctx *ctx, mg_err *e);
/* Before a request shows the version of `c`: render it if stale (render_settle); a new
 * version is saved in this turn's transaction (the answer waits for its commit) and the
 * other long-polls of `c` are woken. 1 bumped, 0 not, -1 (rendering or saving failed). */
int ctl_settle(struct ctl_ctx *ctx, struct ctl_connector *c, mg_err *e);
/* Reply 500 for a failed commit. */
enum MHD_Result reply_commit_failed(struct req *r, mg_err *e);

/* api_admin.c */
enum MHD_Result api_networks_list(struct req *r);
enum MHD_Result api_networks_create(struct req *r);
enum MHD_Result api_network_get(struct req *r);
enum MHD_Result api_network_patch(struct req *r);
enum MHD_Result api_connector_create(struct req *r);
enum MHD_Result api_connectors_list(struct req *r);
enum MHD_Result api_connector_get(struct req *r);
enum MHD_Result api_connector_delete(struct req *r);
enum MHD_Result api_connector_disable(struct req *r);
enum MHD_Result api_connector_enable(struct req *r);
enum MHD_Result api_hub(struct req *r);

/* api_users.c */
enum MHD_Result api_users_list(struct req *r);
enum MHD_Result api_user_create(struct req *r);
enum MHD_Result api_user_delete(struct req *r);
enum MHD_Result api_user_get(struct req *r);
enum MHD_Result api_user_disable(struct req *r);
enum MHD_Result api_user_enable(struct req *r);
enum MHD_Result api_user_config(struct req *r);
enum MHD_Result api_user_patch(struct req *r);

/* api_agent.c */
enum MHD_Result api_enroll(struct req *r);
enum MHD_Result api_device_config(struct req *r);
enum MHD_Result api_device_status(struct req *r);

/* longpoll.c */
void longpoll_suspend(struct req *r, struct ctl_connector *c, int64_t deadline_ms);
void longpoll_unlink(struct ctl_waiter *w);
/* Queue the waiters of `c` to be answered (longpoll_pump resumes them). */
void longpoll_wake(struct ctl_connector *c);
/* Settle (render_settle) and resume the next batch of queued waiters, their new versions
 * saved into the turn's transaction (the loop commits before serving them); true when
 * more remain. `turn_ms`: how long the last loop turn worked (the batch adapts to keep
 * turns short). */
bool longpoll_pump(struct ctl_ctx *ctx, int64_t turn_ms);
void longpoll_expire(struct ctl_ctx *ctx);
int longpoll_arm(struct ctl_ctx *ctx, mg_err *e);
/* Wake every waiter for shutdown; returns how many were woken. */
size_t longpoll_shutdown(struct ctl_ctx *ctx);

#endif
