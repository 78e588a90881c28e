/* SPDX-License-Identifier: MIT */
/*
 * meshgate doctor, the controller and the tunnel: can we reach the controller, is its
 * key the pinned one, does it know us; how far our clock is from its Date header; and
 * when the hub last completed a WireGuard handshake with us.
 */
#include "doc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctlc.h"
#include "httpc.h"
#include "wg.h"

int doc_http_date_skew(const char *date, long long local_now, long long *skew)
{
	time_t t;

	if (!date || !*date)
		return -1;
	t = curl_getdate(date, NULL);
	if (t == (time_t)-1)
		return -1;
	*skew = (long long)t - local_now;
	return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	char *date = ud;
	size_t len = size * n;

	if (len > 5 && !strncasecmp(p, "Date:", 5)) {
		size_t s = 5, e = len;
		while (s < e && (p[s] == ' ' || p[s] == '\t'))
			s++;
		while (e > s && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
			e--;
		if (e - s < 64) {
			memcpy(date, p + s, e - s);
			date[e - s] = '\0';
		}
	}
	return len;
}

/* The controller's Date header (any answer carries one), with the local time it came. */
static int controller_date(const struct doc_ctx *c, char *date, long long *local, mg_err *e)
{
	struct mg_buf body = {.max = 64 << 10};
	char url[320], errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	CURLcode rc;
	int r = -1;

	date[0] = '\0';
	if (!h)
		return mg_err_set(e, "libcurl: cannot create a handle");
	snprintf(url, sizeof(url), "%s/api/v1/hub", c->st.target.url);
	struct httpc_opts ho = {
	    .url = url,
	    .timeout_ms = c->o->timeout_ms,
	    .connect_timeout_ms = c->o->timeout_ms,
	    .body = &body,
	    .ca_file = c->st.target.ca_file,
	    .pinned_key = c->st.target.pin,
	    .pin_only = true,
	    .use_proxy = true,
	    .errbuf = errbuf,
	};
	if (httpc_setup(h, &ho, e) == 0 &&
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, date) == CURLE_OK) {
		rc = curl_easy_perform(h);
		*local = (long long)time(NULL);
		if (rc != CURLE_OK)
			mg_err_set(e, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		else if (!date[0])
			mg_err_set(e, "the controller's answer has no Date header");
		else
			r = 0;
	}
	curl_easy_cleanup(h);
	mg_buf_free(&body);
	return r;
}

static void check_clock(struct doc_ctx *c)
{
	char date[64];
	long long local = 0, skew = 0;
	mg_err e = {""};
	struct doc_finding *f;

	if (controller_date(c, date, &local, &e) < 0) {
		doc_add(c->r, DOC_SKIP, "controller", "clock",
			"clock not compared with the controller: %s", e.msg);
		return;
	}
	if (doc_http_date_skew(date, local, &skew) < 0) {
		doc_add(c->r, DOC_SKIP, "controller", "clock",
			"the controller's Date header \"%s\" is not a date", date);
		return;
	}
	long long a = skew < 0 ? -skew : skew;
	if (a < DOC_SKEW_WARN) {
		doc_add(c->r, DOC_OK, "controller", "clock",
			"the clock agrees with the controller's (%+lld s)", skew);
		return;
	}
	f = doc_add(c->r, a >= DOC_SKEW_FAIL ? DOC_FAIL : DOC_WARN, "controller", "clock",
		    "this host's clock is %lld s %s the controller's (its Date: %s)", a,
		    skew < 0 ? "ahead of" : "behind", date);
	doc_why(f, "certificates look not yet valid or expired, and cloud API signatures "
		   "(AWS SigV4, OCI, Azure tokens) are refused beyond 5 minutes of skew; "
		   "handshake and age figures mislead");
	doc_fix(f, "turn time synchronisation on: timedatectl set-ntp true (systemd-timesyncd) "
		   "or install chrony; check with timedatectl status");
}

static void identity_finding(struct doc_ctx *c, const char *msg)
{
	struct doc_finding *f = doc_add(c->r, DOC_FAIL, "controller", "identity",
					"another host holds this connector's identity: %s", msg);
	doc_why(f, "this host's state directory is a copy (a cloned VM image, a restored "
		   "backup): two machines would fight over one hub peer, so the controller "
		   "refuses the copy and it never brings its tunnel up");
	doc_fix(f, "on this copy, forget the identity and enrol it as a connector of its own: "
		   "meshgate down --forget; create a new connector in the controller; meshgate "
		   "up --connect-file FILE (leave the host named above as it is)");
}

static void check_api(struct doc_ctx *c)
{
	char *json = NULL;
	size_t len = 0;
	mg_err e = {""};
	struct doc_finding *f;
	const char *url = c->st.target.url;
	enum ctlc_result res =
	    ctlc_fetch_config(&c->st.target, c->st.secret, 0, c->o->timeout_ms, &json, &len, &e);

	free(json);
	switch (res) {
	case CTLC_OK:
	case CTLC_NOT_MODIFIED:
		doc_add(c->r, DOC_OK, "controller", "reachable",
			"the controller %s answers, with the pinned key, and knows this connector",
			url);
		/* the running agent's own requests carry this host's fingerprint: a refusal
		 * of those is in its status */
		if (c->agent_running && c->identity_error[0])
			identity_finding(c, c->identity_error);
		return;
	case CTLC_ERR_TRANSPORT:
		f = doc_add(c->r, DOC_FAIL, "controller", "reachable",
			    "the controller %s cannot be reached: %s", url, e.msg);
		doc_why(f, "the agent keeps the last good config, but no change (new sites, "
			   "revocations, access rules) reaches this host and no status goes back");
		doc_fix(f,
			"check from this host: curl -skv %s/api/v1/hub (DNS, a route, an outbound "
			"firewall or proxy on TCP port of the URL); an HTTPS proxy is used from "
			"https_proxy when set",
			url);
		break;
	case CTLC_ERR_PIN:
		f = doc_add(c->r, DOC_FAIL, "controller", "pin",
			    "the controller at %s presents a key that is not the pinned one (%s)",
			    url, c->st.target.pin);
		doc_why(f, "either something in the path intercepts TLS, or the controller's key "
			   "changed; the agent refuses to send its credentials either way");
		doc_fix(
		    f,
		    "if the controller's key was changed on purpose, enrol again with a new "
		    "connection string (meshgate down --forget; meshgate up --connect-file "
		    "FILE); otherwise find the TLS interception (a proxy, a captive portal) on the "
		    "way to %s",
		    url);
		break;
	case CTLC_ERR_REVOKED:
	case CTLC_ERR_CREDENTIALS:
		f = doc_add(c->r, DOC_FAIL, "controller", "credentials",
			    "the controller does not accept this connector: %s", e.msg);
		doc_why(f, "a deleted or unknown connector gets no config; the agent tears "
			   "everything down when it sees a revocation");
		doc_fix(f, "create a new connector for this host in the controller and enrol "
			   "with its connection string: meshgate down --forget; meshgate up "
			   "--connect-file FILE");
		break;
	case CTLC_ERR_IDENTITY:
		identity_finding(c, e.msg);
		break;
	case CTLC_ERR_DISABLED:
		f = doc_add(c->r, DOC_WARN, "controller", "credentials",
			    "this connector is disabled in the controller");
		doc_why(f, "the hub drops its traffic until it is enabled again");
		doc_fix(f, "enable it: POST /api/v1/connectors/%s/enable (admin API)",
			c->st.device_id);
		break;
	default:
		f = doc_add(c->r, DOC_FAIL, "controller", "reachable",
			    "the controller %s answered, but not as expected (%s): %s", url,
			    ctlc_result_name(res), e.msg);
		doc_why(f, "the agent cannot get its config");
		doc_fix(f, "compare the controller's version with this agent's (meshgate version) "
			   "and see the controller's log");
		break;
	}
}

static void check_handshake(struct doc_ctx *c)
{
	struct wg_ctx *w;
	struct wg_device dev = {0};
	const struct wg_peer *hub = NULL;
	mg_err e = {""};
	struct doc_finding *f;

	if (!c->have_config) {
		doc_add(c->r, DOC_SKIP, "controller", "handshake",
			"no config yet: no hub to handshake with");
		return;
	}
	w = wg_ctx_new(WG_MODE_AUTO);
	if (!w) {
		doc_add(c->r, DOC_SKIP, "controller", "handshake", "out of memory");
		return;
	}
	wg_select_existing(w, c->ifname);
	if (wg_get_device(w, c->ifname, &dev, &e) < 0) {
		f = doc_add(c->r, c->agent_running ? DOC_FAIL : DOC_SKIP, "controller", "handshake",
			    "the tunnel %s cannot be read: %s", c->ifname, e.msg);
		if (c->agent_running) {
			doc_why(f, "the agent runs but its tunnel is gone or not answering");
			doc_fix(f, "systemctl restart meshgate; journalctl -u meshgate -e says why "
				   "the tunnel failed");
		}
		wg_ctx_free(w);
		return;
	}
	for (size_t i = 0; i < dev.n_peers; i++)
		if (!memcmp(dev.peers[i].public_key, c->cfg.tunnel.hub_public_key, WG_KEY_LEN))
			hub = &dev.peers[i];
	long long age = hub && hub->last_handshake_sec
			    ? (long long)time(NULL) - (long long)hub->last_handshake_sec
			    : -1;
	if (!hub) {
		f = doc_add(c->r, DOC_FAIL, "controller", "handshake",
			    "the tunnel %s has no peer for the hub", c->ifname);
		doc_why(f, "nothing goes through the mesh");
		doc_fix(f, "systemctl restart meshgate (the agent configures the hub peer)");
	} else if (age < 0) {
		f = doc_add(c->r, DOC_FAIL, "controller", "handshake",
			    "no WireGuard handshake with the hub %s ever completed",
			    c->cfg.tunnel.hub_endpoint);
		doc_why(f, "the tunnel carries nothing until the hub answers a handshake");
		doc_fix(
		    f,
		    "let UDP to %s out (and its answers back) through every firewall on the way; "
		    "check that the connector is enabled and that the hub runs (controller "
		    "status)",
		    c->cfg.tunnel.hub_endpoint);
	} else if (age > c->o->handshake_max_age) {
		f = doc_add(c->r, DOC_FAIL, "controller", "handshake",
			    "the last WireGuard handshake with the hub was %lld s ago (stale after "
			    "%d s)",
			    age, c->o->handshake_max_age);
		doc_why(f, "with keepalives a live session renews its handshake every 2 minutes: "
			   "the hub stopped answering, or UDP from it no longer gets here");
		doc_fix(
		    f,
		    "check UDP to and from %s (a NAT mapping or firewall state may have expired "
		    "or changed) and the hub's status in the controller",
		    c->cfg.tunnel.hub_endpoint);
	} else {
		doc_add(c->r, DOC_OK, "controller", "handshake",
			"last WireGuard handshake with the hub %lld s ago", age);
	}
	wg_device_free(&dev);
	wg_ctx_free(w);
}

void doc_check_controller(struct doc_ctx *c)
{
	if (!c->enrolled) {
		doc_add(c->r, DOC_SKIP, "controller", "reachable", "not enrolled");
		return;
	}
	check_api(c);
	check_clock(c);
	check_handshake(c);
}
