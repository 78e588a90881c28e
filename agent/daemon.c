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

#include "cli.h"
#include "config.h"
#include "ctlc.h"
#include "log.h"
#include "notify.h"
#include "state.h"
#include "status.h"
#include "version.h"

enum req_kind { REQ_POLL = 1, REQ_STATUS };

struct daemon {
	const struct daemon_opts *o;
	struct agent_state st;
	struct dataplane *dp;
	struct cloudworker *cw; /* cloud calls run there, never in this loop */
	uint64_t cloud_at;      /* next hand-over of the desired state to it (0: none pending) */
	CURLM *multi;
	struct ctlc_req *poll, *report;
	int sigfd;

	struct mg_config applied;
	bool have_applied;
	char seen_etag[64];  /* last version seen, applied or refused: the next If-None-Match */
	char last_error[512]; /* what status shows: cfg_error, else conn_error */
	char conn_error[512];
	char cfg_error[512];
	char apply_error[512];
	char *pending_json; /* the config in force until it is saved as last good */
	size_t pending_len;
	bool applying;      /* the config in force is not fully applied yet */

	unsigned fails;       /* consecutive controller failures, for the backoff */
	uint64_t poll_at;     /* monotonic ms: when to start the next long-poll */
	uint64_t report_at;   /* next status report */
	uint64_t reconcile_at; /* drift debounce; 0 = none pending */
	uint64_t drift_first;  /* first drift event of the pending repair */
	uint64_t sysctl_at;
	uint64_t scan_at; /* next coexistence scan */
	bool report_now;
	bool stop;
	int exit_code;

	char ifname[16];    /* the tunnel */
	struct notifier nt; /* systemd: READY=1, STATUS=, watchdog */
	uint64_t wd_at;     /* next watchdog ping (0: no watchdog) */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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
		notify_status(&d->nt, "waiting for the first config from %s%s%s",
			      d->st.target.url, d->last_error[0] ? ": " : "", d->last_error);
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
			      (long long)d->applied.version, d->ifname,
			      s.routes, s.routes == 1 ? "" : "s", s.fw_present ? "on" : "off");
}

static void set_error(struct daemon *d, enum err_src src, const char *msg)
{
	char *slot = src == ERR_CONN ? d->conn_error : src == ERR_CFG ? d->cfg_error : d->apply_error;
	const char *eff;

	snprintf(slot, sizeof(d->conn_error), "%s", msg ? msg : "");
	eff = d->cfg_error[0] ? d->cfg_error : d->apply_error[0] ? d->apply_error : d->conn_error;
	if (!strcmp(d->last_error, eff))
		return;
	snprintf(d->last_error, sizeof(d->last_error), "%s", eff);
	if (eff[0])
		status_note_error(d->o->state_dir, eff);
	else
		status_clear_error(d->o->state_dir);
	d->report_now = true;
	update_status(d);
}

/* Capped exponential backoff with full jitter: uniform in [base/2, base]. */
static uint64_t backoff_ms(struct daemon *d)
{
	uint64_t base = 1000, cap = (uint64_t)d->o->backoff_max_s * 1000;
	uint32_t r = 0;

	for (unsigned i = 1; i < d->fails && base < cap; i++)
		base *= 2;
	if (base > cap)
		base = cap;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)rand();
	return base / 2 + r % (base / 2 + 1);
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
	cJSON *f = cJSON_CreateObject();
	if (f) {
		cJSON_AddNumberToObject(f, "applied_version", (double)d->applied.version);
		status_merge(d->o->state_dir, f);
	}
	d->applying = false;
	d->report_now = true;
	d->cloud_at = now_ms(); /* bring the VPC routes in line with it */
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

	if (config_parse(json, len, &c, &e) < 0 || check_safety(d, &c, &e) < 0) {
		config_free(&c);
		log_err("config refused, keeping version %lld in force: %s",
			(long long)(d->have_applied ? d->applied.version : 0), e.msg);
		set_error(d, ERR_CFG, e.msg);
		return -1;
	}
	set_error(d, ERR_CFG, NULL);
	config_free(&d->applied);
	d->applied = c;
	d->have_applied = true;
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
		d->reconcile_at = now_ms() + 1000;
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

	if (!d->reconcile_at || !d->drift_first)
		d->drift_first = t;
	d->reconcile_at = t + 50 < d->drift_first + 300 ? t + 50 : d->drift_first + 300;
}

static void revoke_and_stop(struct daemon *d)
{
	mg_err e = {""};

	log_err("the controller revoked this connector: removing the tunnel, routes and host "
		"settings meshgate made");
	if (daemon_teardown_all(d->o, d->dp, d->cw, &e) < 0)
		log_err("teardown after revocation incomplete: %s", e.msg);
	set_error(d, ERR_CONN, "revoked by the controller; everything meshgate made was removed");
	notify_stopping(&d->nt, "revoked by the controller: everything meshgate made was removed");
	d->stop = true;
	d->exit_code = EXIT_REVOKED;
}

static int start_request(struct daemon *d, int kind)
{
	struct ctlc_req *r = calloc(1, sizeof(*r));
	char path[64], hdr[96], *body = NULL;
	mg_err e = {""};
	int rc;

	if (!r)
		return -1;
	if (kind == REQ_POLL) {
		snprintf(path, sizeof(path), "/api/v1/device/config?wait=%d", d->o->poll_wait_s);
		if (d->seen_etag[0])
			snprintf(hdr, sizeof(hdr), "If-None-Match: %s", d->seen_etag);
		rc = ctlc_req_init(r, &d->st.target, path, d->st.secret, NULL,
				   d->seen_etag[0] ? hdr : NULL, CONFIG_MAX_BYTES,
				   (long)(d->o->poll_wait_s + 15) * 1000, &e);
	} else {
		struct dp_stats s = {0};
		cJSON *j = cJSON_CreateObject(), *t;
		dp_stats(d->dp, &s);
		if (!j) {
			free(r);
			return -1;
		}
		cJSON_AddNumberToObject(j, "applied_version",
					d->have_applied ? (double)d->applied.version : 0);
		cJSON_AddStringToObject(j, "agent_version", MG_VERSION);
		t = cJSON_AddObjectToObject(j, "tunnel");
		if (t) {
			cJSON_AddStringToObject(t, "state", s.up ? "up" : "down");
			cJSON_AddStringToObject(t, "backend", s.backend ? s.backend : "none");
			cJSON_AddNumberToObject(t, "last_handshake", (double)s.last_handshake);
			cJSON_AddNumberToObject(t, "handshake_age",
						s.last_handshake ? (double)(time(NULL) -
									    s.last_handshake)
								 : -1);
			cJSON_AddNumberToObject(t, "rx_bytes", (double)s.rx_bytes);
			cJSON_AddNumberToObject(t, "tx_bytes", (double)s.tx_bytes);
		}
		cJSON_AddNumberToObject(j, "routes_applied", (double)s.routes);
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
		cJSON *f = cJSON_CreateObject();
		if (f) {
			cJSON_DeleteItemFromObject(j, "errors");
			cJSON_AddStringToObject(j, "state", "running");
			cJSON_AddItemToObject(f, "daemon", j);
			cJSON_AddNumberToObject(j, "routes", (double)s.routes);
			status_merge(d->o->state_dir, f);
		} else {
			cJSON_Delete(j);
		}
		if (!body) {
			free(r);
			return -1;
		}
		rc = ctlc_req_init(r, &d->st.target, "/api/v1/device/status", d->st.secret, body,
				   NULL, 64 << 10, 10000, &e);
		cJSON_free(body);
	}
	if (rc < 0) {
		log_err("%s", e.msg);
		free(r);
		return -1;
	}
	r->kind = kind;
	if (curl_multi_add_handle(d->multi, r->h) != CURLM_OK) {
		ctlc_req_free(r);
		free(r);
		return -1;
	}
	if (kind == REQ_POLL)
		d->poll = r;
	else
		d->report = r;
	return 0;
}

static void finish_poll(struct daemon *d, struct ctlc_req *r, CURLcode rc)
{
	mg_err e = {""};
	char code[64];
	long status = ctlc_req_status(r, rc, &e);

	if (status == 200) {
		d->fails = 0;
		set_error(d, ERR_CONN, NULL);
		if (r->etag[0])
			snprintf(d->seen_etag, sizeof(d->seen_etag), "%s", r->etag);
		take_config(d, r->body ? r->body : "", r->len, false);
		d->poll_at = now_ms();
		return;
	}
	if (status == 304) {
		d->fails = 0;
		set_error(d, ERR_CONN, NULL);
		d->poll_at = now_ms();
		return;
	}
	if (status > 0) {
		ctlc_api_error(r, status, code, sizeof(code), &e);
		if (!strcmp(code, "device_revoked")) {
			revoke_and_stop(d);
			return;
		}
		if (!strcmp(code, "device_disabled"))
			mg_err_set(&e, "this connector is disabled in the controller; the hub "
				       "drops its traffic until it is enabled again");
	}
	d->fails++;
	uint64_t wait = backoff_ms(d);
	log_warn("%s (retrying in %.1f s)", e.msg, (double)wait / 1000);
	set_error(d, ERR_CONN, e.msg);
	d->poll_at = now_ms() + wait;
}

static void finish_report(struct daemon *d, struct ctlc_req *r, CURLcode rc)
{
	mg_err e = {""};
	char code[64];
	long status = ctlc_req_status(r, rc, &e);

	if (status > 0 && status / 100 != 2) {
		ctlc_api_error(r, status, code, sizeof(code), &e);
		if (!strcmp(code, "device_revoked")) {
			revoke_and_stop(d);
			return;
		}
	}
	if (status < 0 || status / 100 != 2)
		log_debug("status report: %s", e.msg);
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
		if (r == d->poll) {
			d->poll = NULL;
			finish_poll(d, r, rc);
		} else if (r == d->report) {
			d->report = NULL;
			finish_report(d, r, rc);
		}
		ctlc_req_free(r);
		free(r);
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
			log_info("SIGHUP: re-checking everything now");
			dp_firewall_scan(d->dp);
			d->cloud_at = now_ms();
			d->reconcile_at = now_ms();
			d->report_now = true;
			break;
		case SIGCHLD:
			for (;;) {
				int wst;
				pid_t pid = waitpid(-1, &wst, WNOHANG);
				if (pid <= 0)
					break;
				if (dp_reap_child(d->dp, pid)) {
					log_warn("userspace WireGuard (pid %d) exited; recreating the "
						 "tunnel", (int)pid);
					d->reconcile_at = now_ms() + 50;
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
	if (take_config(d, json, len, true) == 0)
		snprintf(d->seen_etag, sizeof(d->seen_etag), "\"%lld\"",
			 (long long)d->applied.version);
	free(json);
}

/* How long a revocation waits for the cloud worker to remove our cloud routes. */
#define CLOUD_TEARDOWN_WAIT_MS 15000

int daemon_teardown_all(const struct daemon_opts *o, struct dataplane *dp,
			struct cloudworker *cw, mg_err *e)
{
	struct cloudmgr *own = NULL;
	int restored = 0, kept = 0, r = 0;
	mg_err ce = {""};

	if (dp && dp_teardown(dp, e) < 0)
		r = -1;
	if (sysctl_restore(&o->dp.sysctl, &restored, &kept, r < 0 ? NULL : e) < 0)
		r = -1;
	log_info("host settings: %d sysctl value%s restored, %d left as changed by someone "
		 "else", restored, restored == 1 ? "" : "s", kept);
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

int daemon_run(const struct daemon_opts *o)
{
	struct daemon d = {.o = o, .sigfd = -1, .exit_code = EXIT_OK};
	struct cloud_opts co = o->cloud;
	mg_err e = {""};
	struct cw_result cr;
	int lockfd;

	notify_init(&d.nt);

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
	if (setup_signals(&d, &e) < 0 || dp_open(&d.dp, &dpo, &e) < 0 ||
	    cw_start(&d.cw, o->state_dir, &co, &e) < 0) {
		log_err("%s", e.msg);
		d.exit_code = EXIT_FAIL;
		goto out;
	}
	d.multi = curl_multi_init();
	if (!d.multi) {
		log_err("libcurl: cannot create a multi handle");
		d.exit_code = EXIT_FAIL;
		goto out;
	}
	log_info("meshgate %s running as %s (controller %s, interface %s)", MG_VERSION,
		 d.st.device_id, d.st.target.url, dpo.ifname);
	{
		cJSON *f = cJSON_CreateObject();
		if (f) {
			cJSON *dj = cJSON_AddObjectToObject(f, "daemon");
			if (dj) {
				cJSON_AddStringToObject(dj, "state", "starting");
				cJSON_AddNumberToObject(dj, "pid", (double)getpid());
			}
			status_merge(o->state_dir, f);
		}
	}
	update_status(&d);
	load_last_good(&d);

	uint64_t t = now_ms();
	uint64_t wd_every = notify_watchdog_interval_ms(&d.nt);
	if (wd_every) {
		notify_watchdog(&d.nt);
		d.wd_at = t + wd_every;
	}
	d.poll_at = t;
	d.report_at = t + 1000;
	d.sysctl_at = t + 500;
	d.scan_at = t + 30000;
	while (!d.stop) {
		t = now_ms();
		if (d.wd_at && t >= d.wd_at) {
			notify_watchdog(&d.nt);
			d.wd_at = t + wd_every;
		}
		if (d.reconcile_at && t >= d.reconcile_at) {
			int changes = 0;
			d.reconcile_at = 0;
			d.drift_first = 0;
			if (d.have_applied) {
				if (dp_apply(d.dp, &d.applied, d.st.priv, &changes, &e) < 0) {
					log_err("repairing drift failed: %s", e.msg);
					set_error(&d, ERR_APPLY, e.msg);
					d.reconcile_at = t + 1000;
				} else if (d.applying) {
					mark_applied(&d, changes, " on retry");
				} else {
					set_error(&d, ERR_APPLY, NULL);
					if (changes) {
						log_warn("drift repaired: %d change%s re-applied",
							 changes, changes == 1 ? "" : "s");
						d.report_now = true;
					}
				}
			}
		}
		if (t >= d.sysctl_at) {
			int changed = 0;
			d.sysctl_at = t + 500;
			if (d.have_applied && dp_check_sysctls(d.dp, &changed, &e) < 0)
				log_err("sysctl check: %s", e.msg);
			else if (changed)
				log_warn("drift repaired: %d sysctl value%s put back", changed,
					 changed == 1 ? "" : "s");
			/* a safety net under the nftables events (lost on overflow) */
			if (d.have_applied && !d.reconcile_at && dp_firewall_missing(d.dp))
				schedule_repair(&d);
		}
		if (t >= d.scan_at) {
			d.scan_at = t + 30000;
			if (d.have_applied)
				dp_firewall_scan(d.dp);
		}
		if (d.cloud_at && t >= d.cloud_at && d.have_applied && !d.applying) {
			/* the worker does it; this loop never waits on a provider */
			cw_submit(d.cw, d.applied.cloud.manage_routes, d.applied.cloud.destinations,
				  d.applied.cloud.n_destinations);
			d.cloud_at = t + (uint64_t)o->cloud_interval_s * 1000;
		}
		if (!d.poll && t >= d.poll_at && start_request(&d, REQ_POLL) < 0)
			d.poll_at = t + 1000;
		if (d.report_now || t >= d.report_at) {
			if (!d.report && start_request(&d, REQ_STATUS) == 0) {
				d.report_now = false;
				d.report_at = t + (uint64_t)o->status_interval_s * 1000;
			}
		}

		uint64_t next = d.sysctl_at;
		if (d.reconcile_at && d.reconcile_at < next)
			next = d.reconcile_at;
		if (!d.poll && d.poll_at < next)
			next = d.poll_at;
		if (!d.report && d.report_at < next)
			next = d.report_at;
		if (d.cloud_at && d.cloud_at < next)
			next = d.cloud_at;
		if (d.wd_at && d.wd_at < next)
			next = d.wd_at;
		t = now_ms();
		int timeout = next > t ? (int)(next - t) : 0;

		struct curl_waitfd extra[4] = {
			{.fd = d.sigfd, .events = CURL_WAIT_POLLIN},
			{.fd = cw_event_fd(d.cw), .events = CURL_WAIT_POLLIN},
		};
		unsigned n_extra = 2;
		for (int w = 0; w < 2; w++)
			if (dp_event_fd(d.dp, w) >= 0)
				extra[n_extra++] = (struct curl_waitfd){.fd = dp_event_fd(d.dp, w),
									.events = CURL_WAIT_POLLIN};
		int running;
		if (curl_multi_poll(d.multi, extra, n_extra, timeout, NULL) != CURLM_OK) {
			log_err("curl_multi_poll failed");
			d.exit_code = EXIT_FAIL;
			break;
		}
		if (extra[0].revents)
			handle_signals(&d);
		if (extra[1].revents && cw_read(d.cw, &cr)) {
			if (!cr.ok)
				log_err("%s", cr.msg);
			d.report_now = true;
		}
		bool events = false;
		for (unsigned w = 2; w < n_extra; w++)
			events |= extra[w].revents != 0;
		if (events) {
			bool drift = false;
			if (dp_event_read(d.dp, &drift, &e) < 0)
				log_warn("netlink events: %s", e.msg);
			if (drift && d.have_applied)
				schedule_repair(&d);
		}
		curl_multi_perform(d.multi, &running);
		drain_curl(&d);
	}

	if (d.exit_code == EXIT_OK && d.dp) {
		log_info("stopping: removing the tunnel and its routes (sysctls and cloud routes "
			 "stay until `meshgate down`)");
		notify_stopping(&d.nt, "stopping: removing the tunnel and its routes");
		if (dp_teardown(d.dp, &e) < 0)
			log_err("teardown: %s", e.msg);
		cJSON *f = cJSON_CreateObject();
		if (f) {
			cJSON *dj = cJSON_AddObjectToObject(f, "daemon");
			if (dj)
				cJSON_AddStringToObject(dj, "state", "stopped");
			status_merge(o->state_dir, f);
		}
	}
out:
	if (d.multi) {
		struct ctlc_req *rs[2] = {d.poll, d.report};
		for (int i = 0; i < 2; i++) {
			if (!rs[i])
				continue;
			curl_multi_remove_handle(d.multi, rs[i]->h);
			ctlc_req_free(rs[i]);
			free(rs[i]);
		}
		curl_multi_cleanup(d.multi);
	}
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
