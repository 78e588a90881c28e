/* SPDX-License-Identifier: MIT */
#include "cloudmgr.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "jsonu.h"
#include "log.h"
#include "reconcile.h"

struct cloudmgr {
	struct cloud_opts o;
	char path[PATH_MAX]; /* cloud.json */
	bool resolved;       /* provider question answered */
	const struct cloud_provider_ops *ops;
	struct cloud_provider *p;
	struct cloud_identity id;
	bool have_id;
	bool forwarding_ok;
	char state[256]; /* "not a cloud VM (...)", "ok", or the last failure */
	struct crec_owned_list owned;
	struct crec_report last;
	unsigned long passes, failures; /* counters for the status */
	bool ha_takeover;               /* HA active: the network's other connectors' routes */
	struct crec_peer peers[CREC_MAX_PEERS];
	size_t n_peers;
	/* since the start, for the metrics: route writes that succeeded, errors by kind */
	unsigned long tot_creates, tot_replaces, tot_deletes, tot_errors[CLOUD_ERR_KINDS];
	unsigned long tot_write_failed[3]; /* by enum cloud_op */
};

/* Add one pass's report to the totals. */
static void add_totals(struct cloudmgr *cm, const struct crec_report *r)
{
	cm->tot_creates += r->creates;
	cm->tot_replaces += r->replaces;
	cm->tot_deletes += r->deletes;
	for (int k = 0; k < CLOUD_ERR_KINDS; k++)
		cm->tot_errors[k] += r->by_kind[k];
	for (int k = 0; k < 3; k++)
		cm->tot_write_failed[k] += r->write_failed[k];
}

static int owned_load(struct cloudmgr *cm, mg_err *e)
{
	const cJSON *arr = NULL, *it;
	char *buf;
	size_t len;
	cJSON *j;

	if (fs_read_bounded(cm->path, 1 << 20, &buf, &len, e) < 0)
		return errno == ENOENT ? 0 : -1;
	j = jsonu_parse(buf, len, 1 << 20, e);
	free(buf);
	if (!j || jsonu_get_array(j, "routes", true, CREC_MAX_OWNED, &arr, e) < 0) {
		cJSON_Delete(j);
		return mg_err_prefix(e, "%s", cm->path);
	}
	cJSON_ArrayForEach(it, arr)
	{
		char table[CLOUD_ID_LEN] = "";
		const char *dst = NULL;
		struct cidr c;
		if (jsonu_copy_str(it, "table", true, table, sizeof(table), e) < 0 ||
		    jsonu_get_str(it, "dst", true, CIDR_STRLEN, &dst, e) < 0 ||
		    cidr_parse(dst, &c, 0, e) < 0 || crec_owned_add(&cm->owned, table, &c, e) < 0) {
			cJSON_Delete(j);
			return mg_err_prefix(e, "%s", cm->path);
		}
	}
	cJSON_Delete(j);
	return 0;
}

static int owned_save(struct cloudmgr *cm, mg_err *e)
{
	cJSON *j = cJSON_CreateObject(), *arr;
	char *txt, b[CIDR_STRLEN];
	int r;

	if (!j || !(arr = cJSON_AddArrayToObject(j, "routes")) ||
	    !cJSON_AddStringToObject(j, "provider", cm->ops ? cm->ops->name : "none")) {
		cJSON_Delete(j);
		return mg_err_set(e, "out of memory");
	}
	for (size_t i = 0; i < cm->owned.n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddStringToObject(o, "table", cm->owned.v[i].scope) ||
		    !cJSON_AddStringToObject(o, "dst", cidr_format(&cm->owned.v[i].dst, b))) {
			cJSON_Delete(o);
			cJSON_Delete(j);
			return mg_err_set(e, "out of memory");
		}
		cJSON_AddItemToArray(arr, o);
	}
	txt = cJSON_Print(j);
	cJSON_Delete(j);
	if (!txt)
		return mg_err_set(e, "out of memory");
	r = fs_write_atomic(cm->path, txt, strlen(txt), 0600, e);
	cJSON_free(txt);
	return r;
}

int cm_open(struct cloudmgr **out, const char *state_dir, const struct cloud_opts *o, mg_err *e)
{
	struct cloudmgr *cm = calloc(1, sizeof(*cm));

	*out = NULL;
	if (!cm)
		return mg_err_set(e, "out of memory");
	cm->o = *o;
	if (snprintf(cm->path, sizeof(cm->path), "%s/cloud.json", state_dir) >=
	    (int)sizeof(cm->path)) {
		free(cm);
		return mg_err_set(e, "state directory path too long");
	}
	if (owned_load(cm, e) < 0) {
		cm_close(cm);
		return -1;
	}
	snprintf(cm->state, sizeof(cm->state), "not checked yet");
	*out = cm;
	return 0;
}

void cm_close(struct cloudmgr *cm)
{
	if (!cm)
		return;
	if (cm->p)
		cm->ops->close(cm->p);
	crec_owned_free(&cm->owned);
	crec_report_free(&cm->last);
	free(cm);
}

/* Which provider, opened, with our identity. 1 ready, 0 not a cloud VM, -1 error. */
static int ready(struct cloudmgr *cm, mg_err *e)
{
	if (!cm->resolved) {
		mg_err why = {""};
		cm->resolved = true;
		switch (cloud_select_resolve(&cm->o.sel, 500, &cm->ops, &why)) {
		case CLOUD_SELECT_FOUND:
			break;
		case CLOUD_SELECT_OFF:
			snprintf(cm->state, sizeof(cm->state), "off (cloud provider none)");
			break;
		case CLOUD_SELECT_NOCLOUD:
			snprintf(cm->state, sizeof(cm->state), "not a cloud VM (%.200s)", why.msg);
			break;
		case CLOUD_SELECT_UNKNOWN:
			snprintf(cm->state, sizeof(cm->state), "%.200s", why.msg);
			break;
		}
		if (cm->ops)
			log_info("cloud: provider %s", cm->ops->name);
	}
	if (!cm->ops)
		return 0;
	if (!cm->p) {
		struct cloud_open_opts oo = {.ep = cm->o.sel.ep,
					     .mesh = cm->o.mesh,
					     .hooks = cm->o.hooks,
					     .gcp_priority_set = cm->o.gcp_priority_set,
					     .gcp_priority = cm->o.gcp_priority};
		snprintf(oo.gcp_tags, sizeof(oo.gcp_tags), "%s", cm->o.gcp_tags);
		cm->p = cm->ops->open(&oo, e);
		if (!cm->p)
			return mg_err_prefix(e, "cloud %s", cm->ops->name);
	}
	if (!cm->have_id) {
		if (cm->ops->identity(cm->p, &cm->id, e) < 0)
			return mg_err_prefix(e, "cloud %s identity", cm->ops->name);
		cm->have_id = true;
		log_info("cloud: instance %s, NIC %s (%s), network %s, region %s",
			 cm->id.instance_id, cm->id.nic_id, cm->id.private_ip, cm->id.network_id,
			 cm->id.region);
	}
	if (cm->ops->refresh_credentials(cm->p, false, e) < 0)
		return mg_err_prefix(e, "cloud %s credentials", cm->ops->name);
	return 1;
}

static struct crec_in crec_in_of(const struct cloudmgr *cm, const char **ids)
{
	for (size_t i = 0; i < cm->o.n_tables; i++)
		ids[i] = cm->o.tables[i];
	return (struct crec_in){
	    .ops = cm->ops,
	    .p = cm->p,
	    .id = &cm->id,
	    .me = &cm->o.mesh,
	    .scope_ids = ids,
	    .n_scope_ids = cm->o.n_tables,
	    .takeover = cm->o.takeover,
	    .hooks = &cm->o.hooks,
	    .ha_takeover = cm->ha_takeover,
	    .peers = cm->peers,
	    .n_peers = cm->n_peers,
	};
}

void cm_set_ha(struct cloudmgr *cm, bool takeover, const struct crec_peer *peers, size_t n)
{
	if (n > CREC_MAX_PEERS)
		n = CREC_MAX_PEERS;
	cm->ha_takeover = takeover;
	if (n)
		memcpy(cm->peers, peers, n * sizeof(*peers));
	cm->n_peers = n;
}

int cm_standby(struct cloudmgr *cm, mg_err *e)
{
	int r;

	cm->passes++;
	r = ready(cm, e);
	if (r < 0) {
		snprintf(cm->state, sizeof(cm->state), "%.250s", e->msg);
		cm->failures++;
		return -1;
	}
	if (r > 0)
		snprintf(cm->state, sizeof(cm->state),
			 "standby: no cloud writes (the network's active connector routes)");
	return 0;
}

static void save(struct cloudmgr *cm)
{
	mg_err se;

	if (owned_save(cm, &se) < 0)
		log_err("cloud: %s", se.msg);
}

int cm_sync(struct cloudmgr *cm, bool manage_routes, const struct cidr *dests, size_t n_dests,
	    mg_err *e)
{
	const char *ids[CM_MAX_TABLES];
	struct cloud_err ce = {0};
	struct crec_in in;
	int r;

	cm->passes++;
	r = ready(cm, e);
	if (r <= 0) {
		if (r < 0) {
			snprintf(cm->state, sizeof(cm->state), "%.250s", e->msg);
			cm->failures++;
		}
		return r;
	}
	if (!manage_routes) {
		/* the admin turned route management off: take ours back out */
		snprintf(cm->state, sizeof(cm->state), "route management off");
		return cm->owned.n ? cm_teardown(cm, e) : 0;
	}
	if (!cm->forwarding_ok) {
		if (cm->ops->ensure_forwarding(cm->p, &cm->id, e) < 0) {
			snprintf(cm->state, sizeof(cm->state), "%.250s", e->msg);
			cm->failures++;
			return -1;
		}
		cm->forwarding_ok = true;
		log_info("cloud: %s forwards traffic for others (%s)", cm->id.nic_id,
			 cm->ops->name);
	}
	in = crec_in_of(cm, ids);
	in.desired = dests;
	in.n_desired = n_dests;
	crec_report_free(&cm->last);
	r = crec_run(&in, &cm->owned, &cm->last, &ce);
	save(cm); /* record what is ours even after a partial run */
	add_totals(cm, &cm->last);
	if (r < 0 && ce.kind > 0 && ce.kind < CLOUD_ERR_KINDS)
		cm->tot_errors[ce.kind]++;
	if (r < 0) {
		*e = ce.e;
		snprintf(cm->state, sizeof(cm->state), "%s: %.230s", cloud_err_kind_name(ce.kind),
			 ce.e.msg);
		cm->failures++;
		return -1;
	}
	if (cm->last.errors) {
		snprintf(cm->state, sizeof(cm->state), "%zu route change%s failed (see tables)",
			 cm->last.errors, cm->last.errors == 1 ? "" : "s");
		cm->failures++;
		return mg_err_set(e, "cloud: %s", cm->state);
	}
	if (cm->last.aborted) {
		snprintf(cm->state, sizeof(cm->state), "interrupted");
		return mg_err_set(e, "cloud: pass interrupted");
	}
	snprintf(cm->state, sizeof(cm->state), "ok");
	if (cm->last.creates || cm->last.replaces || cm->last.deletes)
		log_info("cloud: %zu created, %zu replaced, %zu removed, %zu conflict%s",
			 cm->last.creates, cm->last.replaces, cm->last.deletes, cm->last.conflicts,
			 cm->last.conflicts == 1 ? "" : "s");
	return 0;
}

int cm_teardown(struct cloudmgr *cm, mg_err *e)
{
	const char *ids[CM_MAX_TABLES];
	struct cloud_err ce = {0};
	struct crec_in in;
	size_t deleted = 0;
	int r;

	if (cm->owned.n == 0)
		return 0;
	r = ready(cm, e);
	if (r <= 0)
		return r < 0 ? mg_err_prefix(e, "removing %zu cloud route%s", cm->owned.n,
					     cm->owned.n == 1 ? "" : "s")
			     : mg_err_set(e,
					  "%zu cloud routes are recorded but no provider is "
					  "reachable to remove them",
					  cm->owned.n);
	in = crec_in_of(cm, ids);
	r = crec_teardown(&in, &cm->owned, &deleted, &ce);
	if (r < 0)
		*e = ce.e;
	save(cm);
	log_info("cloud: %zu route%s of ours removed", deleted, deleted == 1 ? "" : "s");
	return r;
}

size_t cm_owned_count(const struct cloudmgr *cm)
{
	return cm->owned.n;
}

cJSON *cm_status(const struct cloudmgr *cm)
{
	cJSON *j = cJSON_CreateObject(), *tabs;

	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "provider", cm->ops ? cm->ops->name : "none");
	cJSON_AddStringToObject(j, "state", cm->state);
	if (cm->have_id) {
		cJSON_AddStringToObject(j, "instance", cm->id.instance_id);
		cJSON_AddStringToObject(j, "nic", cm->id.nic_id);
		cJSON_AddStringToObject(j, "private_ip", cm->id.private_ip);
		cJSON_AddStringToObject(j, "network", cm->id.network_id);
		cJSON_AddStringToObject(j, "region", cm->id.region);
		cJSON_AddBoolToObject(j, "forwarding", cm->forwarding_ok);
	}
	if (cm->p && cm->ops->credential) {
		char cred[256] = "", when[32] = "";
		time_t exp = 0;
		struct tm tm;
		cm->ops->credential(cm->p, cred, sizeof(cred), &exp);
		if (cred[0])
			cJSON_AddStringToObject(j, "credential", cred);
		if (exp > 0 && gmtime_r(&exp, &tm) &&
		    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
			cJSON_AddStringToObject(j, "credential_expires", when);
	}
	cJSON_AddNumberToObject(j, "owned_routes", (double)cm->owned.n);
	cJSON *cn = cJSON_AddObjectToObject(j, "counters");
	if (cn) {
		cJSON_AddNumberToObject(cn, "passes", (double)cm->passes);
		cJSON_AddNumberToObject(cn, "failed_passes", (double)cm->failures);
		cJSON_AddNumberToObject(cn, "created", (double)cm->last.creates);
		cJSON_AddNumberToObject(cn, "replaced", (double)cm->last.replaces);
		cJSON_AddNumberToObject(cn, "removed", (double)cm->last.deletes);
		cJSON_AddNumberToObject(cn, "unchanged", (double)cm->last.unchanged);
		cJSON_AddNumberToObject(cn, "conflicts", (double)cm->last.conflicts);
		cJSON_AddNumberToObject(cn, "errors", (double)cm->last.errors);
		cJSON_AddNumberToObject(cn, "replans", (double)cm->last.replans);
		cJSON *tot = cJSON_AddObjectToObject(cn, "totals");
		if (tot) {
			cJSON_AddNumberToObject(tot, "created", (double)cm->tot_creates);
			cJSON_AddNumberToObject(tot, "replaced", (double)cm->tot_replaces);
			cJSON_AddNumberToObject(tot, "removed", (double)cm->tot_deletes);
			cJSON_AddNumberToObject(tot, "create_failed",
						(double)cm->tot_write_failed[CLOUD_OP_CREATE]);
			cJSON_AddNumberToObject(tot, "replace_failed",
						(double)cm->tot_write_failed[CLOUD_OP_REPLACE]);
			cJSON_AddNumberToObject(tot, "delete_failed",
						(double)cm->tot_write_failed[CLOUD_OP_DELETE]);
			cJSON *te = cJSON_AddObjectToObject(tot, "errors_by_kind");
			for (int k = 1; te && k < CLOUD_ERR_KINDS; k++)
				cJSON_AddNumberToObject(te, cloud_err_kind_name(k),
							(double)cm->tot_errors[k]);
		}
		cJSON *bk = cJSON_AddObjectToObject(cn, "errors_by_kind");
		for (int k = 1; bk && k < CLOUD_ERR_KINDS; k++)
			if (cm->last.by_kind[k])
				cJSON_AddNumberToObject(bk, cloud_err_kind_name(k),
							(double)cm->last.by_kind[k]);
	}
	tabs = cJSON_AddArrayToObject(j, "tables");
	for (size_t i = 0; tabs && i < cm->last.n_scopes; i++) {
		const struct crec_scope_report *t = &cm->last.scopes[i];
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddStringToObject(o, "id", t->id);
		cJSON_AddNumberToObject(o, "owned", (double)t->owned);
		cJSON_AddNumberToObject(o, "conflicts", (double)t->conflicts);
		if (t->conflict[0])
			cJSON_AddStringToObject(o, "conflict", t->conflict);
		if (t->last_error[0]) {
			cJSON_AddStringToObject(o, "last_error", t->last_error);
			cJSON_AddStringToObject(o, "error_kind", cloud_err_kind_name(t->last_kind));
			if (t->permission[0])
				cJSON_AddStringToObject(o, "permission", t->permission);
		}
		cJSON_AddItemToArray(tabs, o);
	}
	return j;
}
