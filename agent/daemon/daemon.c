/* SPDX-License-Identifier: MIT */
/*
 * The daemon's single event loop: curl_multi_poll() waits on the controller transfers
 * (config long-poll, status reports) plus our own fds (signalfd, netlink events) with a
 * timeout that is the nearest timer (retry backoff, drift debounce, sysctl check,
 * status report). States: the last good config is applied first (controller or not),
 * then each 200 from the long-poll is validated and applied or refused.
 */
#include "daemon.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "backoff.h"
#include "cli.h"
#include "config.h"
#include "ctlc.h"
#include "dmetrics.h"
#include "ha.h"
#include "memfoot.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "state.h"
#include "status.h"
#include "version.h"

enum req_kind { REQ_POLL = 1, REQ_STATUS };

/*
 * The timer table: everything the loop does on a schedule. Each entry fires once when
 * due and re-arms itself (or is re-armed by the event that needs it again); the loop
 * sleeps until the earliest armed one.
 */
enum dtimer {
	T_WATCHDOG, /* systemd watchdog ping, every WatchdogSec/2 */
	T_REPAIR,   /* re-apply the config in force: drift (debounced) or a failed apply */
	T_SYSCTL,   /* forwarding and rp_filter check, every 500 ms; firewall presence */
	T_SCAN,     /* coexistence scan of other firewalls, every 30 s */
	T_CLOUD,    /* VPC routes in line with the config in force */
	T_POLL,     /* start the next long-poll (after a backoff when it failed) */
	T_REPORT,   /* status report to the controller and status.json */
	T_HA,       /* the HA lease runs out: cloud writes stop (logged, reported) */
	T__COUNT
};

struct daemon {
	const struct daemon_opts *o; /* = &opts */
	struct daemon_opts opts;     /* SIGHUP changes the live ones */
	struct cloud_opts co;        /* what the cloud worker was started with */
	struct metrics_srv *ms;      /* --metrics-listen; NULL: off */
	struct dmetrics dm;
	struct agent_state st;
	struct dataplane *dp;
	struct cloudworker *cw; /* cloud calls run there, never in this loop */
	struct status_file *sf; /* status.json: written at the end of each loop turn */
	CURLM *multi;
	struct ctlc_req *poll, *report;
	int sigfd;

	struct mg_config applied;
	bool have_applied;
	char seen_etag[64];   /* last version seen, applied or refused: the next If-None-Match */
	char last_error[512]; /* what status shows: cfg_error, else conn_error */
	char conn_error[512];
	char cfg_error[512];
	char apply_error[512];
	char *pending_json; /* the config in force until it is saved as last good */
	size_t pending_len;
	bool applying; /* the config in force is not fully applied yet */

	struct agent_ha ha;    /* role, epoch, lease (ha.c) */
	uint64_t poll_started; /* when the long-poll in flight was sent: the lease's start */
	unsigned fails;        /* consecutive controller failures, for the backoff */
	uint64_t at[T__COUNT]; /* the timer table: monotonic ms when each fires, 0 = off */
	uint64_t drift_first;  /* first drift event of the pending repair */
	uint64_t wd_every;     /* watchdog ping period (0: no watchdog) */
	bool report_again;     /* a report was asked for while one was in flight */
	bool stop;
	int exit_code;
	/* one identity, one host: the last good config waits for the first answer (a clone
	 * must not bring the tunnel up before the controller can refuse it) */
	bool lastgood_pending;
	bool ident_refused; /* the controller gave this identity to another host */

	char ifname[16];    /* the tunnel */
	struct notifier nt; /* systemd: READY=1, STATUS=, watchdog */
};

/* Arm timer `t` to fire at `when` (monotonic ms). */
static void arm(struct daemon *d, enum dtimer t, uint64_t when)
{
	d->at[t] = when ? when : 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The same, unless it is armed to fire sooner already. */
static void arm_soon(struct daemon *d, enum dtimer t, uint64_t when)
{
	if (!d->at[t] || when < d->at[t])
		arm(d, t, when);
}

/* A status report now (or as soon as the one in flight is done). */
static void request_report(struct daemon *d)
{
	arm_soon(d, T_REPORT, now_ms());
}

/*
 * Errors come from three places that clear independently: a refused config (cleared
 * by the next good config), applying to the host (cleared by the next successful
 * apply or repair) and talking to the controller (cleared by its next answer).
 * status.json and the reports show them in that order of precedence.
 */
enum err_src { ERR_CONN, ERR_CFG, ERR_APPLY };

/* One line for `systemctl status`: what is in force and what is wrong. */
static void update_status(struct daemon *d)
{
	struct dp_stats s;

	if (!d->nt.enabled)
		return;
	if (!d->have_applied) {
		notify_status(&d->nt, "waiting for the first config from %s%s%s", d->st.target.url,
			      d->last_error[0] ? ": " : "", d->last_error);
		return;
	}
	if (!d->dp || dp_stats(d->dp, &s) < 0)
		memset(&s, 0, sizeof(s));
	if (d->applying || d->last_error[0])
		notify_status(&d->nt, "config v%lld%s; %s", (long long)d->applied.version,
			      d->applying ? " being applied" : " in force",
			      d->last_error[0] ? d->last_error : "retrying");
	else
		notify_status(&d->nt, "config v%lld in force: %s up, %zu route%s, firewall %s",
			      (long long)d->applied.version, d->ifname, s.routes,
			      s.routes == 1 ? "" : "s", s.fw_present ? "on" : "off");
}

static void set_error(struct daemon *d, enum err_src src, const char *msg)
{
	char *slot = src == ERR_CONN  ? d->conn_error
		     : src == ERR_CFG ? d->cfg_error
				      : d->apply_error;
	const char *eff;

	snprintf(slot, sizeof(d->conn_error), "%s", msg ? msg : "");
	eff = d->cfg_error[0] ? d->cfg_error : d->apply_error[0] ? d->apply_error : d->conn_error;
	if (!strcmp(d->last_error, eff))
		return;
	snprintf(d->last_error, sizeof(d->last_error), "%s", eff);
	status_set_error(d->sf, eff);
	request_report(d);
	update_status(d);
}

/* The controller is not there (nothing listens, or it went away mid-request), as opposed
 * to one that answered an error: retried soon, see backoff.h. */
static bool controller_down(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
	       rc == CURLE_SEND_ERROR;
}

/* Capped exponential backoff with jitter: uniform in [base/2, base] (backoff.c). */
static uint64_t backoff_ms(struct daemon *d, bool down)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)rand();
	return backoff_delay_ms(d->fails, down, (unsigned)d->o->backoff_max_s, r);
}

/* The HA role or lease changed: fence or unfence the cloud worker, arm the lease timer. */
static void ha_sync(struct daemon *d)
{
	uint64_t until = ha_write_until(&d->ha);

	cw_set_write_deadline(d->cw, until);
	d->at[T_HA] = until && until != UINT64_MAX ? until : 0;
}

/* Addresses the tunnel must never swallow: the controller and the hub endpoint. */
static void add_protect(struct config_safety *s, const char *host, const char *what)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return;
	for (ai = res; ai && s->n_protect < MG_ARRAY_SIZE(s->protect); ai = ai->ai_next) {
		uint8_t *a = s->protect[s->n_protect].addr;
		memset(a, 0, 16);
		if (ai->ai_family == AF_INET)
			memcpy(a, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		else if (ai->ai_family == AF_INET6)
			memcpy(a, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		else
			continue;
		s->protect[s->n_protect].family = (uint8_t)ai->ai_family;
		snprintf(s->protect[s->n_protect].what, sizeof(s->protect[0].what), "%s", what);
		s->n_protect++;
	}
	freeaddrinfo(res);
}

static void url_host(const char *url, char *host, size_t len)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	if (*h == '[') {
		const char *c = strchr(h, ']');
		snprintf(host, len, "%.*s", c ? (int)(c - h - 1) : 0, h + 1);
		return;
	}
	size_t n = strcspn(h, ":/");
	snprintf(host, len, "%.*s", (int)n, h);
}

static int check_safety(struct daemon *d, const struct mg_config *c, mg_err *e)
{
	struct config_safety s = {0};
	char host[CONFIG_ENDPOINT_MAX];
	uint16_t port;
	struct cidr *lan = NULL;
	size_t n_lan = 0;
	int r;

	url_host(d->st.target.url, host, sizeof(host));
	add_protect(&s, host, "the controller");
	if (config_split_endpoint(c->tunnel.hub_endpoint, host, sizeof(host), &port) == 0)
		add_protect(&s, host, "the hub endpoint");
	if (dp_lan_subnets(d->dp, &lan, &n_lan, e) < 0)
		return -1;
	s.lan = lan;
	s.n_lan = n_lan;
	r = config_check_safety(c, &s, e);
	free(lan);
	return r;
}

/* The config in force has been applied in full: record it as the last good one. */
static void mark_applied(struct daemon *d, int changes, const char *how)
{
	mg_err e = {""};

	if (d->pending_json &&
	    state_save_config(d->o->state_dir, d->pending_json, d->pending_len, &e) < 0)
		log_warn("applied version %lld but could not save it as last good: %s",
			 (long long)d->applied.version, e.msg);
	free(d->pending_json);
	d->pending_json = NULL;
	d->pending_len = 0;
	log_info("config version %lld applied (%d change%s)%s", (long long)d->applied.version,
		 changes, changes == 1 ? "" : "s", how);
	set_error(d, ERR_APPLY, NULL);
	status_set_applied(d->sf, d->applied.version);
	d->applying = false;
	request_report(d);
	arm_soon(d, T_CLOUD, now_ms()); /* bring the VPC routes in line with it */
	/* the tunnel, routes, sysctls and firewall are all in place: systemd may go on */
	if (!d->nt.ready) {
		char line[160];
		snprintf(line, sizeof(line), "config v%lld in force (%d change%s)",
			 (long long)d->applied.version, changes, changes == 1 ? "" : "s");
		notify_ready(&d->nt, line);
	}
	update_status(d);
}

/*
 * Validate a config; a valid one becomes the config in force and is applied. If the
 * host refuses part of it (a daemon slow to start, a busy netlink), the reconcile timer
 * retries until it is all in place; only then is it saved as the last good config.
 * An invalid or unsafe one is refused and the config in force stays.
 */
static int take_config(struct daemon *d, const char *json, size_t len, bool from_disk)
{
	struct mg_config c;
	mg_err e = {""};
	int changes = 0;

	int parsed = config_parse(json, len, &c, &e);

	if (parsed == 0 && !from_disk)
		status_set_fetched(d->sf, c.version);
	if (!from_disk)
		d->dm.configs_received++;
	if (parsed < 0 || check_safety(d, &c, &e) < 0 || ha_check(&d->ha, &c, &e) < 0) {
		config_free(&c);
		if (!from_disk)
			d->dm.configs_refused++;
		log_err("config refused, keeping version %lld in force: %s",
			(long long)(d->have_applied ? d->applied.version : 0), e.msg);
		set_error(d, ERR_CFG, e.msg);
		return -1;
	}
	set_error(d, ERR_CFG, NULL);
	config_free(&d->applied);
	d->applied = c;
	d->have_applied = true;
	if (!d->applied.cloud.manage_routes) {
		/* nothing reads them with route management off (the cloud worker only takes
		 * ours out): 10,000 destinations are 180 KiB kept for nothing */
		free(d->applied.cloud.destinations);
		d->applied.cloud.destinations = NULL;
		d->applied.cloud.n_destinations = 0;
	}
	if (ha_take(&d->ha, &d->applied)) {
		ha_sync(d); /* a standby is fenced at once; an active one after renewal */
		request_report(d);
	}
	free(d->pending_json);
	d->pending_json = NULL;
	d->pending_len = 0;
	if (!from_disk) {
		d->pending_json = malloc(len + 1);
		if (d->pending_json) {
			memcpy(d->pending_json, json, len);
			d->pending_json[len] = '\0';
			d->pending_len = len;
		}
	}
	if (dp_apply(d->dp, &d->applied, d->st.priv, &changes, &e) < 0) {
		log_err("applying config version %lld failed (retrying): %s",
			(long long)d->applied.version, e.msg);
		set_error(d, ERR_APPLY, e.msg);
		d->applying = true;
		arm(d, T_REPAIR, now_ms() + 1000);
		return -1;
	}
	mark_applied(d, changes, from_disk ? " from the last good copy" : "");
	return 0;
}

/*
 * Debounce drift: wait for 50 ms of quiet, but never more than 300 ms after the first
 * event, so a storm of changes (a firewall reload) costs one repair, promptly.
 */
static void schedule_repair(struct daemon *d)
{
	uint64_t t = now_ms();

	if (!d->at[T_REPAIR] || !d->drift_first)
		d->drift_first = t;
	arm(d, T_REPAIR, t + 50 < d->drift_first + 300 ? t + 50 : d->drift_first + 300);
}

/* The first poll is answered at once (wait 0) or given up after this long. */
#define FIRST_POLL_TIMEOUT_MS 3000
/* While another host holds our identity, ask again this often. */
#define IDENTITY_RETRY_MS 10000

/*
 * The controller gave this connector's identity to another host (a cloned machine): stop
 * routing at once (the copy's handshakes would steal the hub's peer from the real host),
 * write no cloud routes, say so, and keep asking: when the other host is gone for good
 * the controller admits this one and the config comes back as usual.
 */
static void identity_refused(struct daemon *d, const char *msg)
{
	mg_err e = {""};

	cw_allow_writes(d->cw, false);
	if (!d->ident_refused)
		log_err("identity refused: %s. The tunnel is down and no cloud routes are "
			"written here; retrying every %d s",
			msg, IDENTITY_RETRY_MS / 1000);
	d->ident_refused = true;
	d->lastgood_pending = false;
	if (d->have_applied || d->applying) {
		if (daemon_teardown(d->o, d->dp, d->cw, TEARDOWN_TUNNEL, &e) < 0)
			log_err("removing the tunnel: %s", e.msg);
		config_free(&d->applied);
		d->have_applied = false;
		d->applying = false;
		free(d->pending_json);
		d->pending_json = NULL;
		d->pending_len = 0;
	}
	status_set_applied(d->sf, -1); /* nothing in force here (a copied status.json says so) */
	d->at[T_REPAIR] = d->at[T_CLOUD] = 0;
	d->seen_etag[0] = '\0'; /* once admitted, the config comes at once */
	set_error(d, ERR_CONN, msg);
}

static void identity_admitted(struct daemon *d)
{
	if (!d->ident_refused)
		return;
	d->ident_refused = false;
	cw_allow_writes(d->cw, true);
	log_info("the controller admits this host again: applying its config");
}

static void revoke_and_stop(struct daemon *d)
{
	mg_err e = {""};

	log_err("the controller revoked this connector: removing the tunnel, routes and host "
		"settings meshgate made");
	if (daemon_teardown(d->o, d->dp, d->cw, TEARDOWN_ALL, &e) < 0)
		log_err("teardown after revocation incomplete: %s", e.msg);
	set_error(d, ERR_CONN, "revoked by the controller; everything meshgate made was removed");
	notify_stopping(&d->nt, "revoked by the controller: everything meshgate made was removed");
	d->stop = true;
	d->exit_code = EXIT_REVOKED;
}

static int start_request(struct daemon *d, int kind)
{
	struct ctlc_req *r;
	char *body = NULL;
	mg_err e = {""};

	if (kind == REQ_POLL) {
		d->poll_started = now_ms();
		r = ctlc_config_req(
		    &d->st.target, d->st.secret, d->seen_etag,
		    d->lastgood_pending ? 0 : ha_poll_wait_s(&d->ha, d->o->poll_wait_s), &e);
		if (r && d->lastgood_pending &&
		    curl_easy_setopt(ctlc_req_handle(r), CURLOPT_TIMEOUT_MS,
				     (long)FIRST_POLL_TIMEOUT_MS) != CURLE_OK) {
			ctlc_req_free(r);
			r = NULL;
			mg_err_set(&e, "libcurl: cannot set CURLOPT_TIMEOUT_MS");
		}
	} else {
		struct dp_stats s = {0};
		cJSON *j = cJSON_CreateObject(), *t;
		dp_stats(d->dp, &s);
		if (!j)
			return -1;
		cJSON_AddNumberToObject(j, "applied_version",
					d->have_applied ? (double)d->applied.version : 0);
		cJSON_AddStringToObject(j, "agent_version", MG_VERSION);
		t = cJSON_AddObjectToObject(j, "tunnel");
		if (t) {
			cJSON_AddStringToObject(t, "state", s.up ? "up" : "down");
			cJSON_AddStringToObject(t, "backend", s.backend ? s.backend : "none");
			cJSON_AddNumberToObject(t, "last_handshake", (double)s.last_handshake);
			cJSON_AddNumberToObject(
			    t, "handshake_age",
			    s.last_handshake ? (double)(time(NULL) - s.last_handshake) : -1);
			cJSON_AddNumberToObject(t, "rx_bytes", (double)s.rx_bytes);
			cJSON_AddNumberToObject(t, "tx_bytes", (double)s.tx_bytes);
		}
		cJSON_AddNumberToObject(j, "routes_applied", (double)s.routes);
		cJSON *ha = ha_status_json(&d->ha, now_ms());
		if (ha)
			cJSON_AddItemToObject(j, "ha", ha);
		cJSON *cl = cw_status(d->cw);
		if (cl)
			cJSON_AddItemToObject(j, "cloud", cl);
		cJSON *fw = cJSON_AddObjectToObject(j, "firewall");
		if (fw) {
			cJSON_AddBoolToObject(fw, "table", s.fw_present);
			cJSON_AddBoolToObject(fw, "nat", s.nat);
			cJSON_AddNumberToObject(fw, "exclusions", (double)s.exclusions);
			cJSON_AddStringToObject(fw, "access", s.access);
			cJSON *wa = cJSON_AddArrayToObject(fw, "warnings");
			for (int i = 0; wa && i < s.n_warnings; i++)
				cJSON_AddItemToArray(wa, cJSON_CreateString(s.warnings[i]));
		}
		cJSON *errs = cJSON_AddArrayToObject(j, "errors");
		if (errs && d->last_error[0])
			cJSON_AddItemToArray(errs, cJSON_CreateString(d->last_error));
		body = cJSON_PrintUnformatted(j);
		/* the same picture goes to status.json for `meshgate status` */
		cJSON_DeleteItemFromObject(j, "errors");
		cJSON_AddNumberToObject(j, "routes", (double)s.routes);
		status_set_daemon(d->sf, "running", j);
		if (!body)
			return -1;
		r = ctlc_status_req(&d->st.target, d->st.secret, body, &e);
		cJSON_free(body);
	}
	if (!r) {
		log_err("%s", e.msg);
		return -1;
	}
	if (curl_multi_add_handle(d->multi, ctlc_req_handle(r)) != CURLM_OK) {
		ctlc_req_free(r);
		return -1;
	}
	if (kind == REQ_POLL)
		d->poll = r;
	else
		d->report = r;
	return 0;
}

static void load_last_good_once(struct daemon *d);

static void finish_poll(struct daemon *d, struct ctlc_req *r, CURLcode rc)
{
	mg_err e = {""};
	enum ctlc_result res = ctlc_req_finish(r, rc, &e);

	if (res == CTLC_OK || res == CTLC_NOT_MODIFIED || res == CTLC_ERR_REVOKED)
		d->dm.last_contact = (int64_t)time(NULL);
	if (res == CTLC_ERR_IDENTITY) {
		identity_refused(d, e.msg);
		arm(d, T_POLL, now_ms() + IDENTITY_RETRY_MS);
		return;
	}
	if (res == CTLC_OK || res == CTLC_NOT_MODIFIED) {
		d->dm.polls_ok++;
		d->fails = 0;
		identity_admitted(d);
		set_error(d, ERR_CONN, NULL);
		if (res == CTLC_OK) {
			size_t len;
			const char *body = ctlc_req_body(r, &len);
			if (ctlc_req_etag(r)[0])
				snprintf(d->seen_etag, sizeof(d->seen_etag), "%s",
					 ctlc_req_etag(r));
			take_config(d, body, len, false);
		}
		load_last_good_once(d); /* when that config was refused */
		/* the answer renews the lease from when this poll was sent */
		if (ha_renewed(&d->ha, d->poll_started, now_ms()))
			arm(d, T_CLOUD, now_ms()); /* the active one takes the routes now */
		ha_sync(d);
		arm(d, T_POLL, now_ms());
		return;
	}
	if (res == CTLC_ERR_REVOKED) {
		revoke_and_stop(d);
		return;
	}
	load_last_good_once(d); /* no answer from the controller: what we had */
	d->fails++;
	d->dm.polls_failed++;
	uint64_t wait = backoff_ms(d, res == CTLC_ERR_TRANSPORT && controller_down(rc));
	log_warn("%s (retrying in %.1f s)", e.msg, (double)wait / 1000);
	set_error(d, ERR_CONN, e.msg);
	arm(d, T_POLL, now_ms() + wait);
}

static void finish_report(struct daemon *d, struct ctlc_req *r, CURLcode rc)
{
	mg_err e = {""};
	enum ctlc_result res = ctlc_req_finish(r, rc, &e);

	if (res == CTLC_ERR_REVOKED)
		revoke_and_stop(d);
	else if (res == CTLC_ERR_IDENTITY)
		identity_refused(d, e.msg);
	else if (res != CTLC_OK)
		log_debug("status report: %s (%s)", e.msg, ctlc_result_name(res));
	if (d->report_again) {
		d->report_again = false;
		request_report(d);
	}
}

static void drain_curl(struct daemon *d)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(d->multi, &left))) {
		struct ctlc_req *r = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		CURLcode rc = m->data.result;
		curl_multi_remove_handle(d->multi, m->easy_handle);
		if (!r)
			continue;
		bool was_poll = r == d->poll;
		if (was_poll) {
			d->poll = NULL;
			finish_poll(d, r, rc);
		} else if (r == d->report) {
			d->report = NULL;
			finish_report(d, r, rc);
		}
		ctlc_req_free(r);
		if (was_poll)
			memfoot_trim(); /* a config's document, tree and apply went back */
		if (d->stop)
			return;
	}
}

static int setup_signals(struct daemon *d, mg_err *e)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return mg_err_set(e, "sigprocmask: %s", strerror(errno));
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return mg_err_set(e, "signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- metrics and settings reload ---------------------------------------------------- */

static void render_metrics(void *ctx, struct mg_buf *b)
{
	struct daemon *d = ctx;

	d->dm.applied_version = d->have_applied ? d->applied.version : -1;
	d->dm.applying = d->applying;
	d->dm.routes_desired = d->have_applied ? d->applied.n_routes : 0;
	d->dm.have_hub = d->have_applied;
	d->dm.ha_role = !d->ha.present ? "none" : d->ha.active ? "active" : "standby";
	d->dm.ha_epoch = d->ha.present ? d->ha.epoch : 0;
	d->dm.ha_role_changes = d->ha.role_changes;
	if (d->have_applied)
		memcpy(d->dm.hub_key, d->applied.tunnel.hub_public_key, sizeof(d->dm.hub_key));
	dmetrics_render(&d->dm, d->dp, d->cw, d->ms, b);
}

/* (Re)open the metrics endpoint as the settings say; a failure is logged, never fatal. */
static void metrics_start(struct daemon *d)
{
	mg_err e = {""};

	metrics_close(d->ms);
	d->ms = NULL;
	if (!d->opts.metrics_listen[0])
		return;
	if (metrics_open(&d->ms, d->opts.metrics_listen, render_metrics, d, &e) < 0)
		log_err("%s (metrics off; fix metrics_listen and send SIGHUP)", e.msg);
	else
		log_info("metrics at http://%s/metrics", d->opts.metrics_listen);
}

static bool cloud_scope_changed(const struct cloud_opts *a, const struct cloud_opts *b)
{
	if (a->n_tables != b->n_tables || a->takeover != b->takeover ||
	    a->gcp_priority_set != b->gcp_priority_set || a->gcp_priority != b->gcp_priority ||
	    strcmp(a->gcp_tags, b->gcp_tags))
		return true;
	for (size_t i = 0; i < a->n_tables; i++)
		if (strcmp(a->tables[i], b->tables[i]))
			return true;
	return false;
}

/* SIGHUP: apply what can change live; the reload hook logged what needs a restart. */
static void reload_settings(struct daemon *d)
{
	struct daemon_opts f;
	mg_err e = {""};

	if (!d->opts.reload)
		return;
	if (d->opts.reload(d->opts.reload_ctx, &f, &e) < 0) {
		log_err("%s", e.msg);
		return;
	}
	d->opts.log_level = f.log_level;
	log_set_level(f.log_level >= 0 ? (enum mg_log_level)f.log_level : MG_LOG_INFO);
	d->opts.poll_wait_s = f.poll_wait_s;
	d->opts.status_interval_s = f.status_interval_s;
	d->opts.cloud_interval_s = f.cloud_interval_s;
	if (strcmp(f.metrics_listen, d->opts.metrics_listen) || (f.metrics_listen[0] && !d->ms)) {
		memcpy(d->opts.metrics_listen, f.metrics_listen, sizeof(f.metrics_listen));
		metrics_start(d);
	}
	if (cloud_scope_changed(&d->co, &f.cloud)) {
		struct cloud_opts co = d->co;
		struct cloudworker *nw = NULL;
		memcpy(co.tables, f.cloud.tables, sizeof(co.tables));
		co.n_tables = f.cloud.n_tables;
		co.takeover = f.cloud.takeover;
		co.gcp_priority_set = f.cloud.gcp_priority_set;
		co.gcp_priority = f.cloud.gcp_priority;
		memcpy(co.gcp_tags, f.cloud.gcp_tags, sizeof(co.gcp_tags));
		/* a new worker with the new scope (the old one's pass is abandoned) */
		cw_stop(d->cw);
		d->cw = NULL;
		if (cw_start(&nw, d->opts.state_dir, &co, &e) < 0) {
			log_err("cloud: %s (keeping the previous scope)", e.msg);
			if (cw_start(&nw, d->opts.state_dir, &d->co, &e) < 0) {
				log_err("cloud: %s: stopping", e.msg);
				d->stop = true;
				d->exit_code = EXIT_FAIL;
				return;
			}
		} else {
			d->co = co;
			log_info("cloud: route tables in scope, takeover and GCP settings updated");
		}
		d->cw = nw;
		ha_sync(d); /* the new worker is fenced as the old one was */
	}
}

static void handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: stopping", si.ssi_signo);
			d->stop = true;
			break;
		case SIGHUP:
			log_info("SIGHUP: re-reading the settings, re-checking everything now");
			reload_settings(d);
			dp_firewall_scan(d->dp);
			arm(d, T_CLOUD, now_ms());
			arm(d, T_REPAIR, now_ms());
			request_report(d);
			break;
		case SIGCHLD:
			for (;;) {
				int wst;
				pid_t pid = waitpid(-1, &wst, WNOHANG);
				if (pid <= 0)
					break;
				if (dp_reap_child(d->dp, pid)) {
					d->dm.repairs[DM_REPAIR_WIREGUARD]++;
					log_warn(
					    "userspace WireGuard (pid %d) exited; recreating the "
					    "tunnel",
					    (int)pid);
					arm_soon(d, T_REPAIR, now_ms() + 50);
				}
			}
			break;
		}
	}
}

static void load_last_good(struct daemon *d)
{
	mg_err e = {""};
	char *json = NULL;
	size_t len = 0;

	if (state_load_config(d->o->state_dir, &json, &len, &e) < 0) {
		if (errno != ENOENT)
			log_warn("last good config unreadable: %s", e.msg);
		return;
	}
	if (take_config(d, json, len, true) == 0 && !d->seen_etag[0])
		snprintf(d->seen_etag, sizeof(d->seen_etag), "\"%lld\"",
			 (long long)d->applied.version);
	free(json);
	memfoot_trim();
}

/* After the first answer of the controller (or its failure to answer): the last good
 * config, unless a config from the controller is in force already. */
static void load_last_good_once(struct daemon *d)
{
	if (!d->lastgood_pending)
		return;
	d->lastgood_pending = false;
	if (!d->have_applied)
		load_last_good(d);
}

/* How long a revocation waits for the cloud worker to remove our cloud routes. */
#define CLOUD_TEARDOWN_WAIT_MS 15000

int daemon_teardown(const struct daemon_opts *o, struct dataplane *dp, struct cloudworker *cw,
		    enum teardown_level level, mg_err *e)
{
	struct cloudmgr *own = NULL;
	int restored = 0, kept = 0, r = 0;
	mg_err ce = {""};

	if (dp && dp_teardown(dp, e) < 0)
		r = -1;
	if (level < TEARDOWN_ALL)
		return r;
	if (sysctl_restore(&o->dp.sysctl, &restored, &kept, r < 0 ? NULL : e) < 0)
		r = -1;
	log_info("host settings: %d sysctl value%s restored, %d left as changed by someone "
		 "else",
		 restored, restored == 1 ? "" : "s", kept);
	if (cw ? cw_teardown(cw, CLOUD_TEARDOWN_WAIT_MS, &ce) < 0
	       : cm_open(&own, o->state_dir, &o->cloud, &ce) < 0 || cm_teardown(own, &ce) < 0) {
		log_err("cloud routes: %s", ce.msg);
		if (r == 0)
			mg_err_set(e, "cloud routes: %s", ce.msg);
		r = -1;
	}
	cm_close(own);
	return r;
}

/* ---- the timers' work ---------------------------------------------------------------- */

static void on_watchdog(struct daemon *d, uint64_t now)
{
	notify_watchdog(&d->nt);
	arm(d, T_WATCHDOG, now + d->wd_every);
}

static void on_repair(struct daemon *d, uint64_t now)
{
	mg_err e = {""};
	int changes = 0;

	d->drift_first = 0;
	if (!d->have_applied)
		return;
	int rc = dp_apply(d->dp, &d->applied, d->st.priv, &changes, &e);
	memfoot_trim(); /* a full apply's dumps and batches go back */
	if (rc < 0) {
		log_err("repairing drift failed: %s", e.msg);
		set_error(d, ERR_APPLY, e.msg);
		arm(d, T_REPAIR, now + 1000);
	} else if (d->applying) {
		mark_applied(d, changes, " on retry");
	} else {
		set_error(d, ERR_APPLY, NULL);
		if (changes) {
			d->dm.repairs[DM_REPAIR_DATAPATH]++;
			log_warn("drift repaired: %d change%s re-applied", changes,
				 changes == 1 ? "" : "s");
			request_report(d);
		}
	}
}

static void on_sysctl(struct daemon *d, uint64_t now)
{
	mg_err e = {""};
	int changed = 0;

	arm(d, T_SYSCTL, now + 500);
	if (!d->have_applied)
		return;
	if (dp_check_sysctls(d->dp, &changed, &e) < 0)
		log_err("sysctl check: %s", e.msg);
	else if (changed) {
		d->dm.repairs[DM_REPAIR_SYSCTL] += (uint64_t)changed;
		log_warn("drift repaired: %d sysctl value%s put back", changed,
			 changed == 1 ? "" : "s");
	}
	/* a safety net under the nftables events (lost on overflow) */
	if (!d->at[T_REPAIR] && dp_firewall_missing(d->dp))
		schedule_repair(d);
}

static void on_scan(struct daemon *d, uint64_t now)
{
	arm(d, T_SCAN, now + 30000);
	if (d->have_applied)
		dp_firewall_scan(d->dp);
}

static void on_cloud(struct daemon *d, uint64_t now)
{
	struct crec_peer peers[CREC_MAX_PEERS];

	if (!d->have_applied || d->applying)
		return; /* mark_applied arms it again */
	if (d->ha.present) {
		cw_set_ha(d->cw, !d->ha.active, d->ha.active, peers,
			  ha_peers(&d->applied, peers, CREC_MAX_PEERS));
		/* an active connector without a valid lease waits: the renewal arms this */
		if (d->ha.active && !ha_may_write(&d->ha, now))
			return;
	} else {
		cw_set_ha(d->cw, false, false, NULL, 0);
	}
	/* the worker does it; this loop never waits on a provider */
	cw_submit(d->cw, d->applied.cloud.manage_routes, d->applied.cloud.destinations,
		  d->applied.cloud.n_destinations);
	arm(d, T_CLOUD, now + (uint64_t)d->o->cloud_interval_s * 1000);
}

static void on_poll(struct daemon *d, uint64_t now)
{
	if (d->poll)
		return; /* finish_poll arms the next one */
	if (start_request(d, REQ_POLL) < 0)
		arm(d, T_POLL, now + 1000);
}

static void on_report(struct daemon *d, uint64_t now)
{
	if (d->report) {
		d->report_again = true; /* finish_report asks again */
		return;
	}
	if (start_request(d, REQ_STATUS) < 0)
		arm(d, T_REPORT, now + 1000);
	else
		arm(d, T_REPORT, now + (uint64_t)d->o->status_interval_s * 1000);
}

static void on_ha(struct daemon *d, uint64_t now)
{
	if (ha_expired(&d->ha, now)) {
		log_warn("HA: lease ran out (no answer from the controller for %lld ms): cloud "
			 "writes stopped until it renews the lease",
			 (long long)d->ha.lease_ms);
		request_report(d);
	}
}

static void (*const timers[T__COUNT])(struct daemon *, uint64_t) = {
    [T_WATCHDOG] = on_watchdog, [T_REPAIR] = on_repair, [T_SYSCTL] = on_sysctl, [T_SCAN] = on_scan,
    [T_CLOUD] = on_cloud,       [T_POLL] = on_poll,     [T_REPORT] = on_report, [T_HA] = on_ha,
};

/* Fire every timer that is due. */
static void run_timers(struct daemon *d)
{
	uint64_t t = now_ms();

	for (int i = 0; i < T__COUNT && !d->stop; i++) {
		if (!d->at[i] || t < d->at[i])
			continue;
		d->at[i] = 0;
		timers[i](d, t);
	}
}

/*
 * Sleep until the earliest timer, a controller transfer, a signal or a netlink event
 * (drift), and handle what woke us. -1 when the loop cannot go on.
 */
static int wait_and_dispatch(struct daemon *d)
{
	struct curl_waitfd extra[4 + METRICS_MAX_FDS] = {
	    {.fd = d->sigfd, .events = CURL_WAIT_POLLIN},
	    {.fd = cw_event_fd(d->cw), .events = CURL_WAIT_POLLIN},
	};
	unsigned n_extra = 2;
	struct cw_result cr;
	uint64_t next = 0, t;
	bool events = false;
	mg_err e = {""};
	int running, timeout;

	for (int i = 0; i < T__COUNT; i++)
		if (d->at[i] && (!next || d->at[i] < next))
			next = d->at[i];
	t = now_ms();
	timeout = !next ? 60000 : next > t ? (int)(next - t) : 0;
	for (int w = 0; w < 2; w++)
		if (dp_event_fd(d->dp, w) >= 0)
			extra[n_extra++] = (struct curl_waitfd){.fd = dp_event_fd(d->dp, w),
								.events = CURL_WAIT_POLLIN};
	unsigned n_dp = n_extra;
	n_extra += metrics_poll_fds(d->ms, extra + n_extra, METRICS_MAX_FDS);
	if (curl_multi_poll(d->multi, extra, n_extra, timeout, NULL) != CURLM_OK) {
		log_err("curl_multi_poll failed");
		d->exit_code = EXIT_FAIL;
		return -1;
	}
	if (extra[0].revents)
		handle_signals(d);
	/* (a SIGHUP may have replaced the worker: its new fd is read on the next turn) */
	if (extra[1].revents && d->cw && cw_read(d->cw, &cr)) {
		if (!cr.ok)
			log_err("%s", cr.msg);
		request_report(d);
	}
	for (unsigned w = 2; w < n_dp; w++)
		events |= extra[w].revents != 0;
	metrics_dispatch(d->ms, extra + n_dp, n_extra - n_dp);
	if (events) {
		bool drift = false;
		if (dp_event_read(d->dp, &drift, &e) < 0)
			log_warn("netlink events: %s", e.msg);
		if (drift && d->have_applied)
			schedule_repair(d);
	}
	curl_multi_perform(d->multi, &running);
	drain_curl(d);
	return 0;
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon d = {.opts = *o, .sigfd = -1, .exit_code = EXIT_OK};
	struct cloud_opts co = o->cloud;
	mg_err e = {""};
	int lockfd;

	d.o = &d.opts;
	d.dm.applied_version = -1;
	d.dm.ha_role = "none";
	notify_init(&d.nt);

	/* enrolment first: a missing or empty state directory is "not enrolled" (exit 4),
	 * not a failure to create the lock file in it */
	if (!state_enrolled(o->state_dir)) {
		log_err("not enrolled: no identity in %s (run `meshgate up --connect-file FILE` "
			"first)",
			o->state_dir);
		return EXIT_NOTENROLLED;
	}
	lockfd = state_lock(o->state_dir, &e);
	if (lockfd < 0) {
		log_err("%s", e.msg);
		return EXIT_FAIL;
	}
	if (state_load(o->state_dir, &d.st, &e) < 0) {
		log_err("%s", e.msg);
		close(lockfd);
		return errno == ENOENT ? EXIT_NOTENROLLED : EXIT_FAIL;
	}
	struct dp_opts dpo = o->dp;
	if (!dpo.ifname[0])
		snprintf(dpo.ifname, sizeof(dpo.ifname), "%s",
			 d.st.ifname[0] ? d.st.ifname : DP_IFNAME_DEFAULT);
	snprintf(d.ifname, sizeof(d.ifname), "%s", dpo.ifname);
	snprintf(co.mesh.network, sizeof(co.mesh.network), "%s", d.st.network_id);
	snprintf(co.mesh.connector, sizeof(co.mesh.connector), "%s", d.st.device_id);
	d.co = co;
	memfoot_setup(); /* before the cloud worker's thread */
	if (setup_signals(&d, &e) < 0 || dp_open(&d.dp, &dpo, &e) < 0 ||
	    cw_start(&d.cw, o->state_dir, &co, &e) < 0) {
		log_err("%s", e.msg);
		d.exit_code = EXIT_FAIL;
		goto out;
	}
	d.sf = status_open(o->state_dir);
	d.multi = curl_multi_init();
	if (!d.sf || !d.multi) {
		log_err("out of memory (status, curl multi handle)");
		d.exit_code = EXIT_FAIL;
		goto out;
	}
	log_info("meshgate %s running as %s (controller %s, interface %s)", MG_VERSION,
		 d.st.device_id, d.st.target.url, dpo.ifname);
	metrics_start(&d);
	status_set_daemon(d.sf, "starting", NULL);
	status_flush(d.sf);
	update_status(&d);
	d.lastgood_pending = true; /* applied after the first poll: see load_last_good_once */

	uint64_t t = now_ms();
	d.wd_every = notify_watchdog_interval_ms(&d.nt);
	if (d.wd_every)
		arm(&d, T_WATCHDOG, t);
	arm(&d, T_POLL, t);
	arm(&d, T_REPORT, t + 1000);
	arm(&d, T_SYSCTL, t + 500);
	arm(&d, T_SCAN, t + 30000);
	while (!d.stop) {
		run_timers(&d);
		if (d.stop || wait_and_dispatch(&d) < 0)
			break;
		status_flush(d.sf);
	}

	if (d.exit_code == EXIT_OK && d.dp) {
		log_info("stopping: removing the tunnel and its routes (sysctls and cloud routes "
			 "stay until `meshgate down`)");
		notify_stopping(&d.nt, "stopping: removing the tunnel and its routes");
		if (daemon_teardown(o, d.dp, d.cw, TEARDOWN_TUNNEL, &e) < 0)
			log_err("teardown: %s", e.msg);
		status_set_daemon(d.sf, "stopped", NULL);
	}
out:
	if (d.multi) {
		struct ctlc_req *rs[2] = {d.poll, d.report};
		for (int i = 0; i < 2; i++) {
			if (!rs[i])
				continue;
			curl_multi_remove_handle(d.multi, ctlc_req_handle(rs[i]));
			ctlc_req_free(rs[i]);
		}
		curl_multi_cleanup(d.multi);
	}
	metrics_close(d.ms);
	status_close(d.sf);
	config_free(&d.applied);
	free(d.pending_json);
	cw_stop(d.cw);
	if (d.dp)
		dp_close(d.dp);
	if (d.sigfd >= 0)
		close(d.sigfd);
	state_wipe(&d.st);
	close(lockfd);
	return d.exit_code;
}
