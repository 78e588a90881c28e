/* SPDX-License-Identifier: MIT */
/*
 * The GCP provider: the metadata server for identity and the service account's token,
 * Compute Engine v1 for the rest. GCP routes are global to the VPC network: one scope, the
 * network. Several routes may hold one destination (priority decides); the reconciler
 * sees one per destination (see pick()). Ours carry the name prefix "mg-" (a hash of mesh
 * network, destination and next-hop instance) and the description
 * "meshgate:<mesh network>:<connector>". Routes are immutable: CREATE inserts, REPLACE
 * inserts the new one and only then deletes the old (never a gap), DELETE deletes; every
 * write waits for its Operation. canIpForward cannot be changed on a running instance:
 * when it is false, nothing is written and the error says how to fix it.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cloud.h"
#include "gcp.h"
#include "gcp_compute.h"
#include "gcp_meta.h"
#include "jsonu.h"
#include "log.h"

struct cloud_provider {
	struct cloud_endpoints ep;
	struct cloud_mesh_id mesh;
	struct cloud_hooks hooks;
	struct httpc_abort abort;
	struct gcp_meta meta;
	struct gcp_compute cc;
	bool ready;
	struct gcp_md_instance md;
	char project[64];
	char instance[CLOUD_ID_LEN]; /* projects/P/zones/Z/instances/N */
	int priority;
	char tags[256];
	struct gcp_route_list last; /* the last full listing of the network */
};

static int gcp_detect(const struct cloud_endpoints *ep, long timeout_ms)
{
	return gcp_meta_probe(ep && ep->metadata[0] ? ep->metadata : NULL, timeout_ms);
}

static bool hooks_aborted(void *ud)
{
	return cloud_aborted(ud);
}

static struct cloud_provider *gcp_open(const struct cloud_open_opts *o, mg_err *e)
{
	struct cloud_provider *p = calloc(1, sizeof(*p));

	if (!p)
		return mg_err_set(e, "out of memory"), NULL;
	p->priority = 1000;
	if (o) {
		p->ep = o->ep;
		p->mesh = o->mesh;
		p->hooks = o->hooks;
		if (o->gcp_priority_set && o->gcp_priority >= 0 && o->gcp_priority <= 65535)
			p->priority = o->gcp_priority;
		snprintf(p->tags, sizeof(p->tags), "%s", o->gcp_tags);
	}
	p->abort = (struct httpc_abort){hooks_aborted, &p->hooks};
	if (gcp_meta_init(&p->meta, p->ep.metadata, e)) {
		free(p);
		return NULL;
	}
	p->meta.abort = &p->abort;
	return p;
}

static void gcp_close(struct cloud_provider *p)
{
	if (!p)
		return;
	gcp_meta_cleanup(&p->meta);
	gcp_route_list_free(&p->last);
	free(p);
}

static int token_cb(void *ud, bool force, const char **tok, mg_err *e)
{
	struct cloud_provider *p = ud;

	if (gcp_meta_token(&p->meta, force, e))
		return -1;
	*tok = p->meta.token;
	return 0;
}

/* nic0's subnet from its address and mask, when the metadata server gave both. */
static void subnet_of(const struct gcp_md_instance *md, struct cloud_identity *id)
{
	char s[160];
	struct cidr c, m;
	mg_err e;
	int len = 0;

	if (!md->netmask[0])
		return;
	snprintf(s, sizeof(s), "%s/32", md->netmask);
	if (cidr_parse(s, &m, 0, &e) || m.family != 2 /* AF_INET */)
		return;
	for (int i = 0; i < 4; i++)
		for (int b = 7; b >= 0 && (m.addr[i] >> b & 1); b--)
			len++;
	snprintf(s, sizeof(s), "%s/%d", md->ip, len);
	if (cidr_parse(s, &c, CIDR_ALLOW_HOST_BITS, &e))
		return;
	cidr_mask(&c);
	id->net_cidrs[0] = c;
	id->n_net_cidrs = 1;
}

static int gcp_identity(struct cloud_provider *p, struct cloud_identity *id, mg_err *e)
{
	memset(id, 0, sizeof(*id));
	if (gcp_meta_identity(&p->meta, &p->md, p->project, sizeof(p->project), e))
		return -1;
	if (!p->md.has_sa)
		return mg_err_set(e,
				  "instance %s has no service account: give it one with the "
				  "compute (or cloud-platform) scope",
				  p->md.name);
	if (!p->md.compute_scope)
		return mg_err_set(e,
				  "the service account of instance %s lacks the compute or "
				  "cloud-platform access scope: stop the instance and run gcloud "
				  "compute instances set-service-account %s --scopes="
				  "cloud-platform",
				  p->md.name, p->md.name);
	snprintf(id->instance_id, sizeof(id->instance_id), "%s", p->md.name);
	snprintf(id->nic_id, sizeof(id->nic_id), "nic0");
	snprintf(id->mac, sizeof(id->mac), "%s", p->md.mac);
	snprintf(id->private_ip, sizeof(id->private_ip), "%s", p->md.ip);
	snprintf(id->network_id, sizeof(id->network_id), "%s", p->md.network);
	snprintf(id->region, sizeof(id->region), "%s", p->md.zone);
	subnet_of(&p->md, id);
	if (snprintf(p->instance, sizeof(p->instance), "projects/%.40s/zones/%.40s/instances/%s",
		     p->project, p->md.zone, p->md.name) >= (int)sizeof(p->instance))
		return mg_err_set(e, "instance path of %s too long", p->md.name);
	if (!p->ready) {
		if (gcp_compute_init(&p->cc, p->ep.api, p->project, p->ep.ca_file, token_cb, p, e))
			return -1;
		p->cc.hooks = &p->hooks;
		p->cc.abort = p->abort;
		p->ready = true;
	}
	return 0;
}

static int need_ready(struct cloud_provider *p, mg_err *e)
{
	if (!p->ready)
		return mg_err_set(e, "GCP provider: identity() must come first");
	return 0;
}

static int gcp_refresh(struct cloud_provider *p, bool force, mg_err *e)
{
	return gcp_meta_token(&p->meta, force, e);
}

static void to_cloud_err(const struct gcp_error *err, const mg_err *e, struct cloud_err *ce)
{
	ce->kind = gcp_err_kind(err);
	snprintf(ce->permission, sizeof(ce->permission), "%s", err->permission);
	ce->e = *e;
}

static int gcp_ensure_forwarding(struct cloud_provider *p, const struct cloud_identity *id,
				 mg_err *e)
{
	struct gcp_error err;
	bool on = false;

	if (need_ready(p, e))
		return -1;
	if (gcp_compute_can_ip_forward(&p->cc, p->md.zone, p->md.name, &on, &err, e))
		return mg_err_prefix(e, "reading canIpForward of instance %s (needs %s)",
				     id->instance_id, gcp_permissions[GCP_PERM_INSTANCES_GET]);
	if (on)
		return 0;
	return mg_err_set(e,
			  "instance %s has canIpForward=false: GCP drops traffic through "
			  "this VM that is not addressed to it, so no routes are written; "
			  "recreate the instance with --can-ip-forward (or gcloud compute "
			  "instances export, set canIpForward: true, update-from-file)",
			  id->instance_id);
}

/* Doctor: canIpForward, read only. */
static int gcp_read_forwarding(struct cloud_provider *p, const struct cloud_identity *id, bool *on,
			       struct cloud_err *ce)
{
	struct gcp_error err;

	(void)id;
	memset(&err, 0, sizeof(err));
	if (need_ready(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	if (gcp_compute_can_ip_forward(&p->cc, p->md.zone, p->md.name, on, &err, &ce->e)) {
		to_cloud_err(&err, &ce->e, ce);
		if (ce->kind == CLOUD_ERR_UNAUTHORIZED && !ce->permission[0])
			snprintf(ce->permission, sizeof(ce->permission), "%s",
				 gcp_permissions[GCP_PERM_INSTANCES_GET]);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- ownership */

void gcp_route_name(const char *mesh_net, const struct cidr *dst, const char *instance,
		    unsigned salt, char out[GCP_NAME_LEN])
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char in[512], b[CIDR_STRLEN];
	int n;

	n = snprintf(in, sizeof(in), "%s|%s|%s|%u", mesh_net, cidr_format(dst, b), instance, salt);
	SHA256((const unsigned char *)in, n > 0 && n < (int)sizeof(in) ? (size_t)n : 0, h);
	strcpy(out, GCP_ROUTE_PREFIX);
	for (int i = 0; i < 12; i++)
		snprintf(out + strlen(GCP_ROUTE_PREFIX) + 2 * i, 3, "%02x", h[i]);
}

int gcp_marker_parse(const char *name, const char *desc, struct cloud_mesh_id *m)
{
	const char *p, *q;

	memset(m, 0, sizeof(*m));
	if (strncmp(name, GCP_ROUTE_PREFIX, strlen(GCP_ROUTE_PREFIX)) ||
	    strncmp(desc, GCP_DESC_PREFIX, strlen(GCP_DESC_PREFIX)))
		return -1;
	p = desc + strlen(GCP_DESC_PREFIX);
	q = strchr(p, ':');
	if (!q || q == p || (size_t)(q - p) >= sizeof(m->network) || !q[1] ||
	    strlen(q + 1) >= sizeof(m->connector))
		return -1;
	snprintf(m->network, sizeof(m->network), "%.*s", (int)(q - p), p);
	snprintf(m->connector, sizeof(m->connector), "%s", q + 1);
	return 0;
}

static void own(const struct cloud_provider *p, struct cloud_route *r)
{
	struct cloud_mesh_id m;

	r->to_us = r->target_kind == CLOUD_TARGET_INSTANCE && !strcmp(r->target_id, p->instance);
	memset(&r->marker, 0, sizeof(r->marker));
	if (!strcmp(r->origin, "system"))
		r->owner = CLOUD_OWNER_SYSTEM;
	else if (gcp_marker_parse(r->name, r->description, &m) == 0 &&
		 (!p->mesh.network[0] || !strcmp(m.network, p->mesh.network))) {
		r->owner = CLOUD_OWNER_OURS;
		r->marker = m;
	} else
		r->owner = CLOUD_OWNER_FOREIGN;
}

static void gcp_classify(struct cloud_provider *p, const struct cloud_identity *id,
			 const struct cloud_scope *s, struct cloud_route *r, bool recorded)
{
	(void)id, (void)s, (void)recorded;
	own(p, r);
}

/* How strongly a route claims to be the one the reconciler sees for its destination. */
static int rank(const struct cloud_provider *p, const struct gcp_route *g)
{
	const struct cloud_route *r = &g->r;
	bool stale = !r->to_us || r->state != CLOUD_ROUTE_ACTIVE;

	if (r->owner == CLOUD_OWNER_SYSTEM)
		return 5;
	if (r->owner == CLOUD_OWNER_FOREIGN)
		/* one that wins over ours (or ties: ECMP) is a conflict; a weaker one
		 * does not matter */
		return g->priority <= p->priority ? 4 : 0;
	if (p->mesh.connector[0] && strcmp(r->marker.connector, p->mesh.connector))
		return 3;
	return stale ? 2 : 1;
}

/* Keep, per destination, the route of the highest rank (see rank()). */
int gcp_pick(const struct cloud_provider *p, struct gcp_route_list *l, const char *network,
	     struct cloud_scope *s, mg_err *e)
{
	for (size_t i = 0; i < l->n; i++) {
		struct gcp_route *g = &l->v[i];
		int rk;
		bool best = true;

		if (strcmp(g->network, network))
			continue;
		rk = rank(p, g);
		if (rk == 0 && g->r.has_dst)
			continue;
		for (size_t k = 0; g->r.has_dst && k < l->n && best; k++) {
			const struct gcp_route *o = &l->v[k];
			int ro;
			if (k == i || strcmp(o->network, network) || !o->r.has_dst ||
			    !cidr_equal(&o->r.dst, &g->r.dst))
				continue;
			ro = rank(p, o);
			if (ro > rk || (ro == rk && k < i))
				best = false;
		}
		if (!best)
			continue;
		struct cloud_route *r = cloud_scope_add_route(s, e);
		if (!r)
			return -1;
		*r = g->r;
	}
	return 0;
}

static int gcp_list(struct cloud_provider *p, const struct cloud_identity *id,
		    const char *const *ids, size_t n_ids, struct cloud_scopes *out,
		    struct cloud_err *ce)
{
	struct gcp_error err;
	struct cloud_scope *s;

	memset(&err, 0, sizeof(err));
	if (need_ready(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	for (size_t i = 0; i < n_ids; i++)
		if (strcmp(ids[i], id->network_id))
			return cloud_err_set(ce, CLOUD_ERR_NOT_FOUND, NULL,
					     "GCP routes belong to the whole network: the only "
					     "scope is %s, not %s",
					     id->network_id, ids[i]);
	gcp_route_list_free(&p->last);
	if (gcp_compute_list_routes(&p->cc, &p->last, &err, &ce->e)) {
		to_cloud_err(&err, &ce->e, ce);
		if (!err.http_status && !err.aborted && !err.retryable)
			ce->kind = CLOUD_ERR_FATAL; /* a malformed answer */
		if (ce->kind == CLOUD_ERR_UNAUTHORIZED && !ce->permission[0] && !err.scope)
			snprintf(ce->permission, sizeof(ce->permission), "%s",
				 gcp_permissions[GCP_PERM_ROUTES_LIST]);
		return -1;
	}
	for (size_t i = 0; i < p->last.n; i++)
		own(p, &p->last.v[i].r);
	s = cloud_scopes_add(out, &ce->e);
	if (!s)
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	snprintf(s->id, sizeof(s->id), "%s", id->network_id);
	snprintf(s->network_id, sizeof(s->network_id), "%s", id->network_id);
	s->main = true;
	if (gcp_pick(p, &p->last, id->network_id, s, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_LIMIT, NULL, "%s", ce->e.msg);
	return 0;
}

/* ---------------------------------------------------------------- writes */

static const struct gcp_route *listed(const struct cloud_provider *p, const char *name)
{
	for (size_t i = 0; i < p->last.n; i++)
		if (!strcmp(p->last.v[i].r.name, name))
			return &p->last.v[i];
	return NULL;
}

char *gcp_route_body(const char *name, const char *project, const char *network,
		     const struct cidr *dst, int priority, const char *instance,
		     const struct cloud_mesh_id *mesh, const char *tags, mg_err *e)
{
	struct mg_buf b = {.max = 8192};
	char c[CIDR_STRLEN], desc[160];
	cJSON *j = cJSON_CreateObject(), *t;
	char *s = NULL;

	if (!j)
		return mg_err_set(e, "out of memory"), NULL;
	snprintf(desc, sizeof(desc), GCP_DESC_PREFIX "%s:%s", mesh->network, mesh->connector);
	mg_buf_addf(&b, GCP_LINK_BASE "projects/%s/global/networks/%s", project, network);
	if (b.failed)
		goto oom;
	if (!cJSON_AddStringToObject(j, "name", name) ||
	    !cJSON_AddStringToObject(j, "network", b.p) ||
	    !cJSON_AddStringToObject(j, "destRange", cidr_format(dst, c)) ||
	    !cJSON_AddNumberToObject(j, "priority", priority) ||
	    !cJSON_AddStringToObject(j, "description", desc))
		goto oom;
	mg_buf_reset(&b);
	mg_buf_addf(&b, GCP_LINK_BASE "%s", instance);
	if (b.failed || !cJSON_AddStringToObject(j, "nextHopInstance", b.p))
		goto oom;
	if (tags && tags[0]) {
		char tb[256], *save = NULL;
		if (!(t = cJSON_AddArrayToObject(j, "tags")))
			goto oom;
		snprintf(tb, sizeof(tb), "%s", tags);
		for (char *tok = strtok_r(tb, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (*tok && !cJSON_AddItemToArray(t, cJSON_CreateString(tok)))
				goto oom;
	}
	s = jsonu_print(j, e);
	cJSON_Delete(j);
	mg_buf_free(&b);
	return s;
oom:
	cJSON_Delete(j);
	mg_buf_free(&b);
	return mg_err_set(e, "out of memory"), NULL;
}

/* The permission a refused write needs, when the API did not name it. */
static void write_err(const struct gcp_error *err, const mg_err *e, const char *perm,
		      struct cloud_err *ce)
{
	to_cloud_err(err, e, ce);
	if (ce->kind == CLOUD_ERR_UNAUTHORIZED && !ce->permission[0] && !err->scope &&
	    err->http_status == 403)
		snprintf(ce->permission, sizeof(ce->permission), "%s", perm);
}

static int insert_ours(struct cloud_provider *p, const struct cloud_identity *id,
		       struct cloud_plan_item *it)
{
	char name[GCP_NAME_LEN], *body;
	struct gcp_error err;
	mg_err e = {""};
	unsigned salt = 0;

	memset(&err, 0, sizeof(err));
	/* a name no listed route has (our own stale route to this host keeps its name) */
	do
		gcp_route_name(p->mesh.network, &it->dst, p->instance, salt, name);
	while (listed(p, name) && ++salt < 8);
	body = gcp_route_body(name, p->project, id->network_id, &it->dst, p->priority, p->instance,
			      &p->mesh, p->tags, &e);
	if (!body)
		return cloud_err_set(&it->res, CLOUD_ERR_FATAL, NULL, "%s", e.msg);
	if (gcp_compute_insert_route(&p->cc, name, body, &err, &e)) {
		cJSON_free(body);
		write_err(&err, &e, gcp_permissions[GCP_PERM_ROUTES_CREATE], &it->res);
		if (err.http_status == 409)
			it->res.kind = CLOUD_ERR_PRECONDITION; /* a name we did not list */
		return -1;
	}
	cJSON_free(body);
	return 0;
}

static int delete_named(struct cloud_provider *p, const char *name, struct cloud_err *ce)
{
	struct gcp_error err;
	mg_err e = {""};

	memset(&err, 0, sizeof(err));
	if (gcp_compute_delete_route(&p->cc, name, &err, &e) == 0)
		return 0;
	write_err(&err, &e, gcp_permissions[GCP_PERM_ROUTES_DELETE], ce);
	return -1;
}

/* Our other routes (this connector's) for `dst` that the reconciler did not see. */
static int delete_hidden(struct cloud_provider *p, const struct cloud_identity *id,
			 const struct cidr *dst, const char *keep_to_us, struct cloud_err *ce)
{
	for (size_t i = 0; i < p->last.n; i++) {
		const struct cloud_route *r = &p->last.v[i].r;
		if (strcmp(p->last.v[i].network, id->network_id) || !r->has_dst ||
		    !cidr_equal(&r->dst, dst) || r->owner != CLOUD_OWNER_OURS ||
		    (p->mesh.connector[0] && strcmp(r->marker.connector, p->mesh.connector)) ||
		    (keep_to_us && r->to_us && r->state == CLOUD_ROUTE_ACTIVE))
			continue;
		if (!cloud_may_write(&p->hooks))
			return cloud_err_set(ce, CLOUD_ERR_ABORTED, NULL, "writes not allowed now");
		if (delete_named(p, r->name, ce))
			return -1;
	}
	return 0;
}

static int gcp_apply(struct cloud_provider *p, const struct cloud_identity *id,
		     struct cloud_plan *plan, struct cloud_err *ce)
{
	if (need_ready(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	for (size_t i = 0; i < plan->n; i++) {
		struct cloud_plan_item *it = &plan->items[i];

		if (cloud_aborted(&p->hooks))
			break; /* the rest stays "not attempted" */
		if (!cloud_may_write(&p->hooks)) {
			cloud_err_set(&it->res, CLOUD_ERR_ABORTED, NULL, "writes not allowed now");
			continue;
		}
		switch (it->op) {
		case CLOUD_OP_CREATE:
			if (insert_ours(p, id, it))
				continue;
			break;
		case CLOUD_OP_REPLACE:
			/* the new one first, then the old one goes: never a gap */
			if (insert_ours(p, id, it))
				continue;
			if (!cloud_may_write(&p->hooks)) {
				cloud_err_set(&it->res, CLOUD_ERR_ABORTED, NULL,
					      "writes not allowed now (old route %s left)",
					      it->cur->name);
				continue;
			}
			if (delete_named(p, it->cur->name, &it->res))
				continue;
			break;
		default:
			if (delete_named(p, it->cur->name, &it->res))
				continue;
			if (delete_hidden(p, id, &it->dst, NULL, &it->res))
				continue;
			break;
		}
		it->res = (struct cloud_err){.kind = CLOUD_OK};
	}
	return 0;
}

static void gcp_credential(struct cloud_provider *p, char *text, size_t len, time_t *expires)
{
	(void)p;
	snprintf(text, len, "the VM's service account (metadata server tokens)");
	*expires = 0; /* the metadata server renews them; we refresh ahead of its expiry */
}

const struct cloud_provider_ops cloud_gcp_ops = {
    .name = "gcp",
    .detect = gcp_detect,
    .open = gcp_open,
    .close = gcp_close,
    .identity = gcp_identity,
    .refresh_credentials = gcp_refresh,
    .ensure_forwarding = gcp_ensure_forwarding,
    .read_forwarding = gcp_read_forwarding,
    .list_scopes = gcp_list,
    .classify = gcp_classify,
    .apply_plan = gcp_apply,
    .credential = gcp_credential,
};
