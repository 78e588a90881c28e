/* SPDX-License-Identifier: MIT */
/* meshgate doctor: what the checks share (identity, last good config, LAN interfaces),
 * and the first check: is the agent enrolled, configured and running? */
#include "doc.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtnl.h"

/* Interfaces with a global address, the tunnel left out (as the agent chooses them). */
static void detect_lan(struct doc_ctx *c)
{
	struct rtnl rt;
	struct rtnl_addr *a = NULL;
	size_t n = 0;
	mg_err e;

	if (rtnl_open(&rt, &e) < 0)
		return;
	if (rtnl_addr_list(&rt, AF_UNSPEC, &a, &n, &e) == 0) {
		for (size_t i = 0; i < n && c->n_lan < DOC_MAX_LAN_IFS; i++) {
			char name[IF_NAMESIZE];
			bool dup = false;
			if (a[i].scope != RT_SCOPE_UNIVERSE ||
			    !if_indextoname(a[i].ifindex, name) || !strcmp(name, c->ifname))
				continue;
			for (size_t j = 0; j < c->n_lan; j++)
				dup |= !strcmp(c->lan[j], name);
			if (dup)
				continue;
			snprintf(c->lan_names[c->n_lan], sizeof(c->lan_names[0]), "%s", name);
			c->lan[c->n_lan] = c->lan_names[c->n_lan];
			c->n_lan++;
		}
	}
	free(a);
	rtnl_close(&rt);
}

int doc_ctx_load(struct doc_ctx *c, const struct doc_opts *o, struct doc_report *r)
{
	mg_err e = {""};
	char *json = NULL;
	size_t len = 0;
	cJSON *status;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->r = r;
	c->enrolled = state_load(o->state_dir, &c->st, &e) == 0;
	c->state_denied = !c->enrolled && (errno == EACCES || errno == EPERM);
	if (!c->enrolled && state_enrolled(o->state_dir)) {
		struct doc_finding *f =
		    doc_add(r, DOC_FAIL, "agent", "identity",
			    "the identity in %s cannot be read: %s", o->state_dir, e.msg);
		doc_why(f, "without its identity the agent cannot talk to the controller");
		doc_fix(f,
			"restore %s/device.json and private.key from a backup, or enrol again: "
			"meshgate down --forget && meshgate up --connect-file FILE",
			o->state_dir);
	}
	snprintf(c->ifname, sizeof(c->ifname), "%s",
		 o->ifname[0]                     ? o->ifname
		 : c->enrolled && c->st.ifname[0] ? c->st.ifname
						  : "mg0");
	if (state_load_config(o->state_dir, &json, &len, &e) == 0) {
		c->have_config = config_parse(json, len, &c->cfg, &e) == 0;
		free(json);
	}
	status = state_load_status(o->state_dir, &e);
	if (status) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(status, "daemon");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(d, "state");
		const cJSON *pid = cJSON_GetObjectItemCaseSensitive(d, "pid");
		if (cJSON_IsString(st) && !strcmp(st->valuestring, "running") &&
		    cJSON_IsNumber(pid) && pid->valuedouble > 1 && pid->valuedouble < 1 << 30)
			c->agent_running = kill((pid_t)pid->valuedouble, 0) == 0 || errno == EPERM;
		const cJSON *le = cJSON_GetObjectItemCaseSensitive(status, "last_error");
		if (cJSON_IsString(le) && strstr(le->valuestring, "identity_in_use"))
			snprintf(c->identity_error, sizeof(c->identity_error), "%s",
				 le->valuestring);
		cJSON_Delete(status);
	}
	for (size_t i = 0; i < o->n_lan_ifs; i++) {
		c->lan[c->n_lan] = o->lan_ifs[i];
		c->n_lan++;
	}
	if (!c->n_lan)
		detect_lan(c);
	return 0;
}

void doc_ctx_free(struct doc_ctx *c)
{
	if (c->have_config)
		config_free(&c->cfg);
	state_wipe(&c->st);
	c->have_config = false;
}

void doc_check_agent(struct doc_ctx *c)
{
	struct doc_finding *f;

	if (c->state_denied) {
		f = doc_add(c->r, DOC_FAIL, "agent", "enrolled",
			    "the state directory %s cannot be read", c->o->state_dir);
		doc_why(f,
			"the doctor reads the identity, the last good config and the status from "
			"there; most host checks need root as well");
		doc_fix(f, "run it as root: sudo meshgate doctor");
		return;
	}
	if (!c->enrolled) {
		f = doc_add(c->r, DOC_FAIL, "agent", "enrolled", "this host is not enrolled (%s)",
			    c->o->state_dir);
		doc_why(f, "a connector needs an identity from the controller before it can build "
			   "its tunnel");
		doc_fix(f, "meshgate up --connect-file FILE (the connection string from the "
			   "controller's admin), then systemctl enable --now meshgate");
		return;
	}
	doc_add(c->r, DOC_OK, "agent", "enrolled", "enrolled as %s in network %s (controller %s)",
		c->st.device_id, c->st.network_id, c->st.target.url);
	if (!c->have_config) {
		f = doc_add(c->r, DOC_WARN, "agent", "config",
			    "no config has been applied yet (no valid %s/config.json)",
			    c->o->state_dir);
		doc_why(f, "until a first config is applied there is no tunnel, no routes and no "
			   "firewall: some checks below are skipped");
		doc_fix(f, "start the agent (systemctl start meshgate) and see `meshgate status` "
			   "and `journalctl -u meshgate` for why it cannot fetch or apply one");
	} else {
		doc_add(c->r, DOC_OK, "agent", "config", "last good config: version %lld",
			(long long)c->cfg.version);
	}
	if (c->agent_running) {
		doc_add(c->r, DOC_OK, "agent", "running", "the agent is running");
		return;
	}
	f = doc_add(c->r, DOC_FAIL, "agent", "running", "the agent is not running");
	doc_why(f, "nothing keeps the tunnel, routes, forwarding and firewall in place or repairs "
		   "them when something else changes them");
	doc_fix(f, "systemctl enable --now meshgate (and `journalctl -u meshgate -e` if it "
		   "stops again)");
}
