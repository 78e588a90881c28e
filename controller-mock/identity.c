/* SPDX-License-Identifier: MIT */
#include "identity.h"

#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "hub.h"
#include "jsonu.h"
#include "log.h"

int ident_parse(const char *id, const char *name, struct ctl_host *out, mg_err *e)
{
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!id)
		return 0;
	if (strlen(id) != CTL_HOSTID_LEN)
		return mg_err_set(e, "\"%s\" must be %d lowercase hex digits", IDENT_ID_HDR,
				  CTL_HOSTID_LEN);
	for (size_t i = 0; i < CTL_HOSTID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return mg_err_set(e, "\"%s\" must be %d lowercase hex digits", IDENT_ID_HDR,
					  CTL_HOSTID_LEN);
	memcpy(out->id, id, CTL_HOSTID_LEN + 1);
	if (!name || !name[0]) {
		snprintf(out->name, sizeof(out->name), "unknown");
		return 1;
	}
	n = strlen(name);
	if (n > CTL_HOSTNAME_MAX)
		return mg_err_set(e, "\"%s\" is longer than %d characters", IDENT_NAME_HDR,
				  CTL_HOSTNAME_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return mg_err_set(e, "\"%s\" must be printable ASCII without spaces",
					  IDENT_NAME_HDR);
	memcpy(out->name, name, n + 1);
	return 1;
}

/* The request's host from its headers and connection; 1, 0 (none) or -1 after a 400. */
static int req_host(struct req *r, struct ctl_host *h, enum MHD_Result *res)
{
	const union MHD_ConnectionInfo *ci;
	mg_err e = {""};
	int rc = ident_parse(req_header(r, IDENT_ID_HDR), req_header(r, IDENT_NAME_HDR), h, &e);

	if (rc < 0) {
		*res = reply_error(r, 400, "invalid_request", "%s", e.msg);
		return -1;
	}
	if (rc == 0)
		return 0;
	h->seen_ms = now_mono_ms();
	ci = MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr ||
	    getnameinfo(ci->client_addr,
			ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							       : sizeof(struct sockaddr_in),
			h->addr, sizeof(h->addr), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(h->addr, sizeof(h->addr), "unknown address");
	return 1;
}

/* A suspended long-poll of `c` whose client has not hung up. */
static bool open_longpoll(const struct ctl_connector *c)
{
	for (const struct ctl_waiter *w = c->waiters; w; w = w->next) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(w->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct pollfd p;

		if (!ci || ci->connect_fd < 0)
			continue;
		p = (struct pollfd){.fd = ci->connect_fd, .events = POLLRDHUP};
		if (poll(&p, 1, 0) == 0 ||
		    (p.revents > 0 && !(p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))))
			return true;
	}
	return false;
}

/* Why the holder still counts as present ("" when it does not). */
static const char *holder_live(const struct ctl_ctx *ctx, const struct ctl_connector *c,
			       int64_t now)
{
	const struct ctl_ident *id = &c->ident;
	int64_t live = ctx->ident_live_ms > 0 ? ctx->ident_live_ms : IDENT_LIVE_MS;

	if (id->holder.seen_ms && now - id->holder.seen_ms < live)
		return "a request moments ago";
	if (open_longpoll(c))
		return "an open long-poll";
	if (!id->holder.seen_ms && id->loaded_ms && now - id->loaded_ms < IDENT_GRACE_MS)
		return "the grace period after a controller restart";
	return "";
}

/* "ip" and "ip:port" of a socket address ("?" when it cannot be told). */
static void ep_format(const struct sockaddr_storage *ep, char ip[64], char full[80])
{
	char port[8] = "";
	socklen_t len =
	    ep->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if (getnameinfo((const struct sockaddr *)ep, len, ip, 64, port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(ip, 64, "?");
		snprintf(port, sizeof(port), "?");
	}
	snprintf(full, 80, ep->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip, port);
}

#define HUB_EP_CHECK_MS 2000

/* The holder was seen: remember the hub's endpoint for it if it comes from its address. */
static void hub_ep_note(struct ctl_ctx *ctx, struct ctl_connector *c)
{
	struct ctl_ident *id = &c->ident;
	struct sockaddr_storage ep;
	char ip[64], full[80];
	int64_t now = now_mono_ms();

	if (id->has_hub_ep && now - id->hub_ep_checked_ms < HUB_EP_CHECK_MS)
		return;
	if (!hub_peer_endpoint(ctx, c->public_key, &ep))
		return; /* no handshake yet: look again at its next request */
	ep_format(&ep, ip, full);
	if (strcmp(ip, id->holder.addr))
		return; /* not provably the holder's (another NAT path): keep what we had */
	id->hub_ep = ep;
	id->has_hub_ep = true;
	id->hub_ep_checked_ms = now;
}

/*
 * A copy was refused: if its handshake moved the hub's endpoint for this connector to the
 * copy's address, drop the peer's sessions and point it back at the holder. Only when the
 * addresses tell the two apart (a copy behind the holder's own NAT cannot be told).
 */
static void hub_ep_restore(struct ctl_ctx *ctx, struct ctl_connector *c,
			   const struct ctl_host *rival)
{
	struct ctl_ident *id = &c->ident;
	struct sockaddr_storage cur;
	char ip[64], full[80], back_ip[64], back[80];
	mg_err e = {""};

	if (!id->has_hub_ep || !hub_peer_endpoint(ctx, c->public_key, &cur))
		return;
	ep_format(&cur, ip, full);
	if (strcmp(ip, rival->addr) || !strcmp(ip, id->holder.addr))
		return;
	ep_format(&id->hub_ep, back_ip, back);
	if (hub_peer_reset(ctx, c->public_key, &id->hub_ep, &e) < 0) {
		log_err("connector %s: the copy at %s took the hub's endpoint (%s) and it could "
			"not be put back: %s",
			c->id, rival->addr, full, e.msg);
		return;
	}
	log_warn("connector %s: the copy at %s had taken the hub's endpoint (%s); its "
		 "sessions dropped, endpoint back to host \"%s\" at %s",
		 c->id, rival->addr, full, id->holder.name, back);
}

static void note_rival(struct ctl_connector *c, const struct ctl_host *h)
{
	struct ctl_ident *id = &c->ident;
	int64_t t = now_unix();
	bool fresh = !id->rival_count || t - id->rival_last >= IDENT_CONFLICT_S ||
		     strcmp(id->rival.id, h->id);

	if (fresh) {
		id->rival_first = t;
		id->rival_count = 0;
		log_warn("connector %s: host \"%s\" (%s) presents the identity held by host \"%s\" "
			 "(%s); refused (a cloned machine? enrol it anew)",
			 c->id, h->name, h->addr, id->holder.name,
			 id->holder.addr[0] ? id->holder.addr : "address not seen yet");
	}
	id->rival = *h;
	id->rival_last = t;
	id->rival_count++;
}

static int commit_or_reply(struct req *r, enum MHD_Result *res)
{
	mg_err e = {""};

	if (ctl_commit(r->ctx, &e) < 0) {
		*res = reply_commit_failed(r, &e);
		return -1;
	}
	return 0;
}

int ident_check(struct req *r, struct ctl_connector *c, enum MHD_Result *res)
{
	struct ctl_ident *id = &c->ident;
	struct ctl_host h;
	const char *why;
	int rc = req_host(r, &h, res);

	if (rc <= 0)
		return rc;
	if (!strcmp(id->holder.id, h.id)) {
		bool renamed = strcmp(id->holder.name, h.name) != 0;
		id->holder = h;
		hub_ep_note(r->ctx, c);
		return renamed ? commit_or_reply(r, res) : 0;
	}
	if (!id->holder.id[0]) {
		log_info("connector %s: held by host \"%s\" (%s)", c->id, h.name, h.addr);
		id->holder = h;
		return commit_or_reply(r, res);
	}
	why = holder_live(r->ctx, c, h.seen_ms);
	if (why[0]) {
		note_rival(c, &h);
		hub_ep_restore(r->ctx, c, &h);
		*res = reply_error(
		    r, 409, "identity_in_use",
		    "connector %s is in use by host \"%s\" (%s; %s): this host "
		    "(\"%s\") has a copy of its identity; run `meshgate down --forget` "
		    "here and enrol it with a new connector",
		    c->id, id->holder.name,
		    id->holder.addr[0] ? id->holder.addr : "address not seen yet", why, h.name);
		return -1;
	}
	log_warn("connector %s: host \"%s\" (%s) takes over from host \"%s\" (%s), gone for "
		 "%lld s",
		 c->id, h.name, h.addr, id->holder.name,
		 id->holder.addr[0] ? id->holder.addr : "address not seen",
		 id->holder.seen_ms ? (long long)(h.seen_ms - id->holder.seen_ms) / 1000 : -1LL);
	id->holder = h;
	id->has_hub_ep = false;
	id->hub_ep_checked_ms = 0;
	if (!strcmp(id->rival.id, h.id))
		id->rival_count = 0;
	return commit_or_reply(r, res);
}

int ident_enrol(struct req *r, struct ctl_connector *c, enum MHD_Result *res)
{
	struct ctl_host h;
	int rc = req_host(r, &h, res);

	if (rc < 0)
		return -1;
	memset(&c->ident, 0, sizeof(c->ident));
	if (rc > 0)
		c->ident.holder = h;
	return 0;
}

static cJSON *host_json(const struct ctl_host *h, bool with_seen)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "id", h->id) ||
	    !cJSON_AddStringToObject(o, "name", h->name) ||
	    !(h->addr[0] ? cJSON_AddStringToObject(o, "address", h->addr)
			 : cJSON_AddNullToObject(o, "address"))) {
		cJSON_Delete(o);
		return NULL;
	}
	if (with_seen && !(h->seen_ms ? cJSON_AddNumberToObject(
					    o, "seen_ago_ms", (double)(now_mono_ms() - h->seen_ms))
				      : cJSON_AddNullToObject(o, "seen_ago_ms"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

bool ident_to_api_json(cJSON *o, const struct ctl_connector *c)
{
	const struct ctl_ident *id = &c->ident;
	cJSON *h, *k;

	if (!id->holder.id[0]) {
		if (!cJSON_AddNullToObject(o, "host"))
			return false;
	} else {
		h = host_json(&id->holder, true);
		if (!h || !cJSON_AddItemToObject(o, "host", h)) {
			cJSON_Delete(h);
			return false;
		}
	}
	if (!id->rival_count || now_unix() - id->rival_last >= IDENT_CONFLICT_S)
		return cJSON_AddNullToObject(o, "identity_conflict") != NULL;
	k = host_json(&id->rival, false);
	if (!k || !cJSON_AddNumberToObject(k, "first_seen", (double)id->rival_first) ||
	    !cJSON_AddNumberToObject(k, "last_seen", (double)id->rival_last) ||
	    !cJSON_AddNumberToObject(k, "count", (double)id->rival_count) ||
	    !cJSON_AddItemToObject(o, "identity_conflict", k)) {
		cJSON_Delete(k);
		return false;
	}
	return true;
}

bool ident_to_store_json(cJSON *o, const struct ctl_connector *c)
{
	if (!c->ident.holder.id[0])
		return true;
	return cJSON_AddStringToObject(o, "host_id", c->ident.holder.id) &&
	       cJSON_AddStringToObject(o, "host_name", c->ident.holder.name);
}

int ident_from_store_json(const cJSON *o, struct ctl_connector *c, mg_err *e)
{
	const char *id = NULL, *name = NULL;
	struct ctl_host h;

	memset(&c->ident, 0, sizeof(c->ident));
	if (jsonu_get_str(o, "host_id", false, CTL_HOSTID_LEN, &id, e) < 0 ||
	    jsonu_get_str(o, "host_name", false, CTL_HOSTNAME_MAX, &name, e) < 0)
		return -1;
	if (name && !id)
		return mg_err_set(e, "\"host_name\" without \"host_id\"");
	if (ident_parse(id, name, &h, e) < 0)
		return mg_err_prefix(e, "\"host_id\"/\"host_name\"");
	if (id) {
		c->ident.holder = h;
		c->ident.loaded_ms = now_mono_ms();
	}
	return 0;
}
