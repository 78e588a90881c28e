/* SPDX-License-Identifier: MIT */
/*
 * The Oracle Cloud provider: IMDS v2 and instance-principal federation for identity and
 * credentials, the Networking API for the rest. Scopes are the route tables of the VCN's
 * subnets; a rule is ours when its description carries "meshgate:<network>[:<connector>]";
 * our rules target this host's private IP OCID. A plan is one PUT of the whole rule list
 * under If-Match: the others' rules go back exactly as they were listed (their parsed JSON is
 * kept from the listing), ours changed per the plan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud.h"
#include "jsonu.h"
#include "log.h"
#include "oci_api.h"
#include "oci_imds.h"

struct rules_cache {
	char id[CLOUD_ID_LEN];
	char etag[CLOUD_ID_LEN];
	cJSON *rules;
};

struct cloud_provider {
	struct cloud_endpoints ep;
	struct cloud_mesh_id mesh;
	struct cloud_hooks hooks;
	struct httpc_abort abort;
	struct oci_imds imds;
	struct oci_auth auth;
	struct oci_api api;
	bool api_ready;
	struct oci_instance inst;
	char vnic_id[CLOUD_ID_LEN];
	char subnet_id[CLOUD_ID_LEN];
	char private_ip_id[CLOUD_ID_LEN];
	struct rules_cache *cache;
	size_t n_cache, cache_cap;
};

static bool hooks_aborted(void *ud)
{
	return cloud_aborted(ud);
}

static int oci_detect(const struct cloud_endpoints *ep, long timeout_ms)
{
	struct oci_imds m;
	struct oci_instance inst;
	mg_err e;
	char *b = NULL;
	size_t len = 0;
	int rc = 0;

	if (oci_imds_init(&m, ep && ep->metadata[0] ? ep->metadata : NULL, &e))
		return 0;
	m.http.timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
	if (oci_imds_get(&m, "instance/", &b, &len, &e) == 0 &&
	    oci_parse_instance(b, len, &inst, &e) == 0)
		rc = 1;
	free(b);
	return rc;
}

static struct cloud_provider *oci_open(const struct cloud_open_opts *o, mg_err *e)
{
	struct cloud_provider *p = calloc(1, sizeof(*p));

	if (!p)
		return mg_err_set(e, "out of memory"), NULL;
	if (o) {
		p->ep = o->ep;
		p->mesh = o->mesh;
		p->hooks = o->hooks;
	}
	p->abort = (struct httpc_abort){hooks_aborted, &p->hooks};
	if (oci_imds_init(&p->imds, p->ep.metadata, e)) {
		free(p);
		return NULL;
	}
	p->imds.http.abort = p->abort;
	return p;
}

static void cache_clear(struct cloud_provider *p)
{
	for (size_t i = 0; i < p->n_cache; i++)
		cJSON_Delete(p->cache[i].rules);
	p->n_cache = 0;
}

static void oci_close(struct cloud_provider *p)
{
	if (!p)
		return;
	cache_clear(p);
	free(p->cache);
	oci_auth_clear(&p->auth);
	free(p);
}

static int oci_refresh(struct cloud_provider *p, bool force, mg_err *e)
{
	if (!p->api_ready)
		return mg_err_set(e, "OCI provider: identity() must come first");
	return oci_auth_refresh(&p->auth, &p->imds, force, e);
}

static int creds_cb(void *ud, bool force, EVP_PKEY **key, const char **token, mg_err *e)
{
	struct cloud_provider *p = ud;

	if (oci_auth_refresh(&p->auth, &p->imds, force, e))
		return -1;
	*key = p->auth.session;
	*token = p->auth.token;
	return 0;
}

static int setup_api(struct cloud_provider *p, mg_err *e)
{
	struct oci_http h = {.timeout_ms = 20000, .abort = p->abort};
	int n;

	if (oci_connect_to_of(p->ep.api, h.connect_to, sizeof(h.connect_to), e))
		return -1;
	snprintf(h.ca_file, sizeof(h.ca_file), "%s", p->ep.ca_file);
	memset(&p->api, 0, sizeof(p->api));
	p->api.http = h;
	p->api.creds = creds_cb;
	p->api.creds_ud = p;
	p->api.hooks = &p->hooks;
	snprintf(p->api.compartment, sizeof(p->api.compartment), "%s", p->inst.compartment);
	if (oci_api_init(&p->api, p->inst.region, p->inst.realm_domain, e))
		return -1;
	p->auth.http = h;
	n = snprintf(p->auth.auth_url, sizeof(p->auth.auth_url), "https://auth.%s.%s",
		     p->inst.region, p->inst.realm_domain);
	if (n < 0 || (size_t)n >= sizeof(p->auth.auth_url))
		return mg_err_set(e, "auth URL too long");
	p->api_ready = true;
	return 0;
}

/* GET <target> into *out (heap); -1 with `e` set. */
static int get(struct cloud_provider *p, const char *op, const char *target, struct oci_resp *r,
	       mg_err *e)
{
	struct oci_error err;
	struct cloud_err ce = {0};

	if (oci_call(&p->api, op, "GET", target, NULL, NULL, r, &err, &ce)) {
		*e = ce.e;
		return -1;
	}
	return 0;
}

static int oci_identity(struct cloud_provider *p, struct cloud_identity *id, mg_err *e)
{
	struct oci_vnic_md v;
	struct oci_resp r;
	char path[CLOUD_ID_LEN + 96], *b = NULL, vcn[CLOUD_ID_LEN], rt[CLOUD_ID_LEN];
	size_t len = 0;
	bool skip;
	int rc;

	memset(id, 0, sizeof(*id));
	if (oci_imds_get(&p->imds, "instance/", &b, &len, e))
		return -1;
	rc = oci_parse_instance(b, len, &p->inst, e);
	free(b);
	if (rc)
		return -1;
	if (oci_imds_get(&p->imds, "vnics/", &b, &len, e))
		return -1;
	rc = oci_parse_vnics(b, len, &v, e);
	free(b);
	if (rc)
		return -1;
	if (!p->api_ready && setup_api(p, e))
		return -1;
	if (oci_auth_refresh(&p->auth, &p->imds, false, e))
		return mg_err_prefix(e, "OCI federation");

	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/vnics/%s", v.vnic_id);
	if (get(p, "GetVnic", path, &r, e))
		return -1;
	rc = oci_parse_vnic(r.body, r.len, &skip, p->subnet_id, sizeof(p->subnet_id), e);
	oci_resp_free(&r);
	if (rc)
		return -1;
	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/subnets/%s", p->subnet_id);
	if (get(p, "GetSubnet", path, &r, e))
		return -1;
	rc = oci_parse_subnet(r.body, r.len, vcn, sizeof(vcn), rt, sizeof(rt), e);
	oci_resp_free(&r);
	if (rc)
		return -1;
	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/vcns/%s", vcn);
	if (get(p, "GetVcn", path, &r, e))
		return -1;
	rc = oci_parse_vcn(r.body, r.len, id->net_cidrs, &id->n_net_cidrs, CLOUD_MAX_NET_CIDRS, e);
	oci_resp_free(&r);
	if (rc)
		return -1;
	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/privateIps?vnicId=%s", v.vnic_id);
	if (get(p, "ListPrivateIps", path, &r, e))
		return -1;
	rc = oci_parse_private_ips(r.body, r.len, v.private_ip, p->private_ip_id,
				   sizeof(p->private_ip_id), e);
	oci_resp_free(&r);
	if (rc)
		return -1;

	snprintf(p->vnic_id, sizeof(p->vnic_id), "%s", v.vnic_id);
	snprintf(id->instance_id, sizeof(id->instance_id), "%s", p->inst.id);
	snprintf(id->nic_id, sizeof(id->nic_id), "%s", v.vnic_id);
	snprintf(id->mac, sizeof(id->mac), "%s", v.mac);
	snprintf(id->private_ip, sizeof(id->private_ip), "%s", v.private_ip);
	snprintf(id->network_id, sizeof(id->network_id), "%s", vcn);
	snprintf(id->region, sizeof(id->region), "%s", p->inst.region);
	log_info("OCI: instance %s, VNIC %s (%s, private IP %s), VCN %s in %s", p->inst.id,
		 v.vnic_id, v.private_ip, p->private_ip_id, vcn, p->inst.region);
	return 0;
}

static int read_skip(struct cloud_provider *p, const char *vnic, bool *skip, mg_err *e)
{
	char path[CLOUD_ID_LEN + 64];
	struct oci_resp r;
	int rc;

	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/vnics/%s", vnic);
	if (get(p, "GetVnic", path, &r, e))
		return -1;
	rc = oci_parse_vnic(r.body, r.len, skip, NULL, 0, e);
	oci_resp_free(&r);
	return rc;
}

/* Doctor: skipSourceDestCheck of our VNIC, read only. */
static int oci_read_forwarding(struct cloud_provider *p, const struct cloud_identity *id, bool *on,
			       struct cloud_err *ce)
{
	char path[CLOUD_ID_LEN + 64];
	struct oci_error err;
	struct oci_resp r;
	int rc;

	if (!p->api_ready)
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL,
				     "OCI provider: identity() must come first");
	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/vnics/%s", id->nic_id);
	if (oci_call(&p->api, "GetVnic", "GET", path, NULL, NULL, &r, &err, ce))
		return -1;
	rc = oci_parse_vnic(r.body, r.len, on, NULL, 0, &ce->e);
	oci_resp_free(&r);
	if (rc)
		ce->kind = CLOUD_ERR_FATAL;
	return rc;
}

static int oci_ensure_forwarding(struct cloud_provider *p, const struct cloud_identity *id,
				 mg_err *e)
{
	char path[CLOUD_ID_LEN + 64];
	struct oci_error err;
	struct cloud_err ce = {0};
	struct oci_resp r;
	bool skip = false;

	if (!p->api_ready)
		return mg_err_set(e, "OCI provider: identity() must come first");
	if (read_skip(p, id->nic_id, &skip, e))
		return -1;
	if (skip)
		return 0;
	if (!cloud_may_write(&p->hooks))
		return mg_err_set(e,
				  "skipSourceDestCheck of %s is false; not changing it while "
				  "writes are not allowed",
				  id->nic_id);
	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/vnics/%s", id->nic_id);
	if (oci_call(&p->api, "UpdateVnic", "PUT", path, "{\"skipSourceDestCheck\":true}", NULL, &r,
		     &err, &ce)) {
		*e = ce.e;
		return mg_err_prefix(e, "setting skipSourceDestCheck on %s", id->nic_id);
	}
	oci_resp_free(&r);
	if (read_skip(p, id->nic_id, &skip, e))
		return mg_err_prefix(e, "reading back skipSourceDestCheck of %s", id->nic_id);
	if (!skip)
		return mg_err_set(e, "skipSourceDestCheck of %s is still false after UpdateVnic",
				  id->nic_id);
	log_info("OCI: skipSourceDestCheck set on VNIC %s", id->nic_id);
	return 0;
}

static int cache_put(struct cloud_provider *p, const char *id, const char *etag, cJSON *rules,
		     mg_err *e)
{
	for (size_t i = 0; i < p->n_cache; i++)
		if (!strcmp(p->cache[i].id, id)) {
			cJSON_Delete(p->cache[i].rules);
			p->cache[i].rules = rules;
			snprintf(p->cache[i].etag, CLOUD_ID_LEN, "%s", etag);
			return 0;
		}
	if (mg_grow((void **)&p->cache, &p->cache_cap, p->n_cache + 1, sizeof(*p->cache),
		    CLOUD_MAX_SCOPES, e)) {
		cJSON_Delete(rules);
		return -1;
	}
	struct rules_cache *c = &p->cache[p->n_cache++];
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->etag, sizeof(c->etag), "%s", etag);
	c->rules = rules;
	return 0;
}

static const struct rules_cache *cache_get(const struct cloud_provider *p, const char *id,
					   const char *etag)
{
	for (size_t i = 0; i < p->n_cache; i++)
		if (!strcmp(p->cache[i].id, id) && !strcmp(p->cache[i].etag, etag))
			return &p->cache[i];
	return NULL;
}

static int get_table(struct cloud_provider *p, const char *rt, struct cloud_scopes *out,
		     struct cloud_err *ce)
{
	char path[CLOUD_ID_LEN + 64];
	struct oci_error err;
	struct oci_resp r;
	cJSON *rules = NULL;
	struct cloud_scope *s;

	for (const char *c = rt; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", *c))
			return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL,
					     "route table id \"%s\" is not an OCID", rt);
	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/routeTables/%s", rt);
	if (oci_call(&p->api, "GetRouteTable", "GET", path, NULL, NULL, &r, &err, ce))
		return -1;
	s = cloud_scopes_add(out, &ce->e);
	if (!s) {
		oci_resp_free(&r);
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	}
	if (oci_parse_route_table(r.body, r.len, s, &rules, &ce->e)) {
		oci_resp_free(&r);
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	}
	snprintf(s->version, sizeof(s->version), "%s", r.etag);
	oci_resp_free(&r);
	if (!s->version[0])
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "GetRouteTable %s answered no etag",
				     rt);
	if (cache_put(p, s->id, s->version, rules, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	return 0;
}

static int oci_list(struct cloud_provider *p, const struct cloud_identity *id,
		    const char *const *ids, size_t n_ids, struct cloud_scopes *out,
		    struct cloud_err *ce)
{
	char(*rts)[CLOUD_ID_LEN] = NULL;
	size_t n = 0;
	int rc = -1;

	if (!p->api_ready)
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "identity() must come first");
	if (n_ids) {
		for (size_t i = 0; i < n_ids; i++)
			if (get_table(p, ids[i], out, ce))
				return -1;
		return 0;
	}
	rts = calloc(CLOUD_MAX_SCOPES, CLOUD_ID_LEN);
	if (!rts)
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "out of memory");
	char page[512] = "";
	for (int pages = 0; pages < 100; pages++) {
		char path[2048];
		struct oci_error err;
		struct oci_resp r;
		int n0 = snprintf(path, sizeof(path),
				  "/" OCI_API_VERSION "/subnets?compartmentId=%s&vcnId=%s",
				  p->inst.compartment, id->network_id);
		if (page[0]) {
			/* opaque: percent-encode everything but unreserved characters */
			size_t o = (size_t)n0;
			o += (size_t)snprintf(path + o, sizeof(path) - o, "&page=");
			for (const unsigned char *c = (const unsigned char *)page;
			     *c && o + 4 < sizeof(path); c++) {
				if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789-._~",
					   *c))
					path[o++] = (char)*c;
				else
					o += (size_t)snprintf(path + o, sizeof(path) - o, "%%%02X",
							      *c);
			}
			path[o] = '\0';
		}
		if (oci_call(&p->api, "ListSubnets", "GET", path, NULL, NULL, &r, &err, ce))
			goto out;
		if (oci_parse_subnets(r.body, r.len, rts, &n, CLOUD_MAX_SCOPES, &ce->e)) {
			oci_resp_free(&r);
			cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
			goto out;
		}
		snprintf(page, sizeof(page), "%s", r.next_page);
		oci_resp_free(&r);
		if (!page[0])
			break;
	}
	for (size_t i = 0; i < n; i++)
		if (get_table(p, rts[i], out, ce))
			goto out;
	rc = 0;
out:
	free(rts);
	return rc;
}

static void oci_classify(struct cloud_provider *p, const struct cloud_identity *id,
			 const struct cloud_scope *s, struct cloud_route *r, bool recorded)
{
	struct cloud_mesh_id m;

	(void)id, (void)s, (void)recorded;
	r->to_us = p->private_ip_id[0] && !strcmp(r->target_id, p->private_ip_id);
	memset(&r->marker, 0, sizeof(r->marker));
	if (!strcmp(r->origin, "LOCAL")) {
		r->owner = CLOUD_OWNER_SYSTEM;
		return;
	}
	if (oci_marker_parse(r->description, &m) && p->mesh.network[0] &&
	    !strcmp(m.network, p->mesh.network)) {
		r->owner = CLOUD_OWNER_OURS;
		r->marker = m;
		return;
	}
	r->owner = CLOUD_OWNER_FOREIGN;
}

static cJSON *our_rule(struct cloud_provider *p, const struct cidr *dst)
{
	char d[CIDR_STRLEN], desc[OCI_DESC_MAX + 1];
	cJSON *r = cJSON_CreateObject();

	cidr_format(dst, d);
	if (p->mesh.connector[0])
		snprintf(desc, sizeof(desc), OCI_MARKER "%s:%s", p->mesh.network,
			 p->mesh.connector);
	else
		snprintf(desc, sizeof(desc), OCI_MARKER "%s", p->mesh.network);
	if (!r || !cJSON_AddStringToObject(r, "destination", d) ||
	    !cJSON_AddStringToObject(r, "destinationType", "CIDR_BLOCK") ||
	    !cJSON_AddStringToObject(r, "networkEntityId", p->private_ip_id) ||
	    !cJSON_AddStringToObject(r, "description", desc) ||
	    !cJSON_AddStringToObject(r, "routeType", "STATIC")) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static struct cloud_plan_item *item_for(struct cloud_plan *plan, const struct cloud_route *r)
{
	if (!r->has_dst)
		return NULL;
	for (size_t i = 0; i < plan->n; i++)
		if (plan->items[i].op != CLOUD_OP_CREATE &&
		    cidr_equal(&plan->items[i].dst, &r->dst))
			return &plan->items[i];
	return NULL;
}

static void set_all(struct cloud_plan *plan, enum cloud_err_kind k, const struct cloud_err *ce)
{
	for (size_t i = 0; i < plan->n; i++) {
		if (k == CLOUD_OK)
			plan->items[i].res = (struct cloud_err){.kind = CLOUD_OK};
		else
			plan->items[i].res = *ce;
	}
}

static int oci_apply(struct cloud_provider *p, const struct cloud_identity *id,
		     struct cloud_plan *plan, struct cloud_err *ce)
{
	const struct cloud_scope *s = plan->scope;
	const struct rules_cache *c;
	cJSON *body = NULL, *arr, *it;
	char *txt = NULL;
	char path[CLOUD_ID_LEN + 64];
	struct oci_error err;
	struct oci_resp r;
	size_t i = 0;
	int rc = -1;

	(void)id;
	if (!p->api_ready)
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "identity() must come first");
	if (!plan->n)
		return 0;
	c = cache_get(p, s->id, s->version);
	if (!c || cJSON_GetArraySize(c->rules) != (int)s->n_routes)
		return cloud_err_set(ce, CLOUD_ERR_PRECONDITION, NULL,
				     "route table %s: no listing at etag %s; listing again", s->id,
				     s->version);
	if (!cloud_may_write(&p->hooks)) {
		cloud_err_set(ce, CLOUD_ERR_ABORTED, NULL, "writes not allowed now");
		set_all(plan, CLOUD_ERR_ABORTED, ce);
		return 0;
	}
	body = cJSON_CreateObject();
	arr = body ? cJSON_AddArrayToObject(body, "routeRules") : NULL;
	if (!arr)
		goto oom;
	cJSON_ArrayForEach(it, c->rules)
	{
		const struct cloud_route *cur = &s->routes[i++];
		struct cloud_plan_item *pi = item_for(plan, cur);
		cJSON *n;

		if (pi && pi->op == CLOUD_OP_DELETE)
			continue;
		n = pi ? our_rule(p, &cur->dst) : cJSON_Duplicate(it, true);
		if (!n || !cJSON_AddItemToArray(arr, n)) {
			cJSON_Delete(n);
			goto oom;
		}
	}
	for (size_t k = 0; k < plan->n; k++) {
		if (plan->items[k].op != CLOUD_OP_CREATE)
			continue;
		if (cloud_scope_find(s, &plan->items[k].dst)) {
			cloud_err_set(&plan->items[k].res, CLOUD_ERR_PRECONDITION, NULL,
				      "the destination is taken");
			continue;
		}
		cJSON *n = our_rule(p, &plan->items[k].dst);
		if (!n || !cJSON_AddItemToArray(arr, n)) {
			cJSON_Delete(n);
			goto oom;
		}
	}
	txt = jsonu_print(body, &ce->e);
	if (!txt) {
		cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
		goto out;
	}
	snprintf(path, sizeof(path), "/" OCI_API_VERSION "/routeTables/%s", s->id);
	if (oci_call(&p->api, "UpdateRouteTable", "PUT", path, txt, s->version, &r, &err, ce)) {
		if (ce->kind == CLOUD_ERR_PRECONDITION) {
			log_info("OCI: route table %s changed under us (412, opc-request-id %s); "
				 "listing again",
				 s->id, err.request_id);
			goto out;
		}
		/* per item: a limit, a denial, a fault: the same for every item */
		for (size_t k = 0; k < plan->n; k++)
			if (plan->items[k].res.kind == CLOUD_ERR_ABORTED)
				plan->items[k].res = *ce;
		rc = 0;
		goto out;
	}
	oci_resp_free(&r);
	for (size_t k = 0; k < plan->n; k++)
		if (plan->items[k].res.kind == CLOUD_ERR_ABORTED)
			plan->items[k].res = (struct cloud_err){.kind = CLOUD_OK};
	rc = 0;
	goto out;
oom:
	cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "out of memory");
out:
	cJSON_Delete(body);
	cJSON_free(txt);
	return rc;
}

static void oci_credential(struct cloud_provider *p, char *text, size_t len, time_t *expires)
{
	if (p->auth.tenancy[0])
		snprintf(text, len, "instance principal, tenancy %.100s", p->auth.tenancy);
	else
		snprintf(text, len, "instance principal");
	*expires = p->auth.token ? p->auth.exp : 0;
}

const struct cloud_provider_ops cloud_oci_ops = {
    .name = "oci",
    .detect = oci_detect,
    .open = oci_open,
    .close = oci_close,
    .identity = oci_identity,
    .refresh_credentials = oci_refresh,
    .ensure_forwarding = oci_ensure_forwarding,
    .read_forwarding = oci_read_forwarding,
    .list_scopes = oci_list,
    .classify = oci_classify,
    .apply_plan = oci_apply,
    .credential = oci_credential,
};
