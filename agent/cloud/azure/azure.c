/* SPDX-License-Identifier: MIT */
/*
 * The Azure provider: IMDS for who we are and managed-identity tokens, ARM for the rest.
 * Identity: VM -> its NIC (matched by MAC or private IP) -> subnet -> VNet; for a uniform
 * scale set's instance the VM and its NICs are read under the scale set's path
 * (.../virtualMachineScaleSets/{s}/virtualMachines/{i}[/networkInterfaces/{n}], IMDS gives
 * that resource id), and its NIC's forwarding belongs to the scale set's model. Scopes are the
 * route tables associated with a subnet of the VNet (or the configured ones), keyed by a
 * short id: "<table>" in the VM's resource group, "<rg>/<table>" elsewhere in the
 * subscription, the full resource id otherwise. Routes are keyed by name; ours are named
 * "meshgate-<network>-<destination>" (the name is the only marker a route can carry) with
 * next hop VirtualAppliance = our private IP. Plans are applied one PUT/DELETE per route,
 * each followed to the end of its long-running operation.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "azure_arm.h"
#include "azure_imds.h"
#include "azure_json.h"
#include "azure_perms.h"
#include "cloud.h"
#include "jsonu.h"
#include "log.h"

struct cloud_provider {
	struct cloud_endpoints ep;
	struct cloud_mesh_id mesh;
	struct cloud_hooks hooks;
	struct az_imds imds;
	struct az_arm arm;
	struct az_token tok; /* secret */
	bool have_tok;
	bool ready; /* identity() done */
	struct az_imds_doc doc;
	char nic_rid[AZ_RID_LEN], vnet_rid[AZ_RID_LEN];
	char private_ip[64];
	char net_marker[AZ_NET_IN_NAME + 1]; /* the mesh network as in our route names */
};

static int az_detect(const struct cloud_endpoints *ep, long timeout_ms)
{
	return az_imds_probe(ep && ep->metadata[0] ? ep->metadata : NULL, timeout_ms);
}

static int refresh(struct cloud_provider *p, bool force, mg_err *e)
{
	time_t now = time(NULL);
	long margin = 300;

	if (p->have_tok && p->tok.expires_in > 0 && p->tok.expires_in / 2 < margin)
		margin = p->tok.expires_in / 2;
	if (!force && p->have_tok && now < p->tok.expires_on - margin)
		return 0;
	struct az_token *t = malloc(sizeof(*t));
	if (!t)
		return mg_err_set(e, "out of memory");
	int rc = az_imds_token(&p->imds, t, e);
	if (rc == 0) {
		OPENSSL_cleanse(&p->tok, sizeof(p->tok));
		p->tok = *t;
		p->have_tok = true;
	} else if (p->have_tok && !force && now < p->tok.expires_on) {
		log_warn("Azure managed identity token not refreshed: %s", e->msg);
		mg_err_clear(e);
		rc = 0; /* keep using the old one while it lasts */
	}
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
	return rc;
}

static int az_refresh(struct cloud_provider *p, bool force, mg_err *e)
{
	return refresh(p, force, e);
}

static int token_cb(void *ud, bool force, char *hdr, size_t len, mg_err *e)
{
	struct cloud_provider *p = ud;

	if (refresh(p, force, e))
		return -1;
	if (snprintf(hdr, len, "Authorization: Bearer %s", p->tok.access_token) >= (int)len)
		return mg_err_set(e, "managed identity token too long");
	return 0;
}

static struct cloud_provider *az_open(const struct cloud_open_opts *o, mg_err *e)
{
	struct cloud_provider *p = calloc(1, sizeof(*p));

	if (!p)
		return mg_err_set(e, "out of memory"), NULL;
	if (o) {
		p->ep = o->ep;
		p->mesh = o->mesh;
		p->hooks = o->hooks;
	}
	if (az_imds_init(&p->imds, p->ep.metadata, p->ep.identity, &p->hooks, e) ||
	    az_arm_init(&p->arm, p->ep.api, p->ep.ca_file, token_cb, p, &p->hooks, e)) {
		free(p);
		return NULL;
	}
	az_name_network(p->mesh.network, p->net_marker, sizeof(p->net_marker));
	return p;
}

static void az_close(struct cloud_provider *p)
{
	if (!p)
		return;
	OPENSSL_cleanse(&p->tok, sizeof(p->tok));
	free(p);
}

/* A uniform scale set's instance NIC: read under the scale set's path, never PUT. */
static bool az_is_vmss_nic(const char *rid)
{
	return strcasestr(rid, "/providers/Microsoft.Compute/virtualMachineScaleSets/") &&
	       strcasestr(rid, "/networkInterfaces/");
}

/* GET a resource by id (or path) with the api-version of its provider. */
static int get_rid(struct cloud_provider *p, const char *rid, const char *what, char **out,
		   size_t *len, struct az_err *err, mg_err *e)
{
	char path[AZ_RID_LEN + 64];
	const char *ver = az_is_vmss_nic(rid)                                ? AZ_API_VMSS_NIC
			  : strcasestr(rid, "/providers/Microsoft.Compute/") ? AZ_API_COMPUTE
									     : AZ_API_NETWORK;

	snprintf(path, sizeof(path), "%s?api-version=%s", rid, ver);
	if (az_arm_get(&p->arm, path, out, len, err, e))
		return mg_err_prefix(e, "reading %s %s", what, az_rid_name(rid));
	return 0;
}

/* ---- scope ids: short forms of route table resource ids ---- */

static int scope_id_of(const struct cloud_provider *p, const char *rid, char *out, size_t len,
		       mg_err *e)
{
	char sub[64], rg[96];
	int n;

	if (az_rid_part(rid, "subscriptions", sub, sizeof(sub)) ||
	    az_rid_part(rid, "resourceGroups", rg, sizeof(rg)))
		return mg_err_set(e, "route table id %.100s is not an ARM id", rid);
	if (strcasecmp(sub, p->doc.subscription))
		n = snprintf(out, len, "%s", rid);
	else if (strcasecmp(rg, p->doc.resource_group))
		n = snprintf(out, len, "%s/%s", rg, az_rid_name(rid));
	else
		n = snprintf(out, len, "%s", az_rid_name(rid));
	if (n < 0 || (size_t)n >= len)
		return mg_err_set(e, "route table id %.100s is too long", rid);
	return 0;
}

static int rid_of(const struct cloud_provider *p, const char *id, char *out, size_t len, mg_err *e)
{
	const char *slash = strchr(id, '/');
	int n;

	if (!strncasecmp(id, "/subscriptions/", 15))
		n = snprintf(out, len, "%s", id);
	else if (slash)
		n = snprintf(out, len,
			     "/subscriptions/%s/resourceGroups/%.*s/providers/"
			     "Microsoft.Network/routeTables/%s",
			     p->doc.subscription, (int)(slash - id), id, slash + 1);
	else
		n = snprintf(out, len,
			     "/subscriptions/%s/resourceGroups/%s/providers/"
			     "Microsoft.Network/routeTables/%s",
			     p->doc.subscription, p->doc.resource_group, id);
	if (n < 0 || (size_t)n >= len)
		return mg_err_set(e, "route table %.100s: id too long", id);
	for (const char *c = out; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-_.()",
			    *c) ||
		    strstr(out, ".."))
			return mg_err_set(e, "route table %.100s: not a name or resource id", id);
	if (!strcasestr(out, "/providers/Microsoft.Network/routeTables/"))
		return mg_err_set(e, "%.100s is not a route table", id);
	return 0;
}

/* ---- identity ---- */

static int az_identity(struct cloud_provider *p, struct cloud_identity *id, mg_err *e)
{
	char nics[AZ_MAX_NICS][AZ_RID_LEN], *buf = NULL, table[AZ_RID_LEN], *s;
	struct az_nic nic = {0};
	struct az_vnet *vnet = NULL;
	struct az_err err;
	size_t n = 0, len;
	int rc = -1;

	memset(id, 0, sizeof(*id));
	if (az_imds_instance(&p->imds, &p->doc, e) || refresh(p, false, e))
		return -1;
	if (get_rid(p, p->doc.vm_id, "virtual machine", &buf, &len, &err, e) ||
	    az_parse_vm(buf, len, nics, AZ_MAX_NICS, &n, e))
		goto out;
	for (size_t i = 0; i < n && !nic.matched; i++) {
		free(buf);
		buf = NULL;
		if (get_rid(p, nics[i], "network interface", &buf, &len, &err, e) ||
		    az_parse_nic(buf, len, p->doc.mac, p->doc.private_ip, &nic, e))
			goto out;
		if (nic.matched)
			snprintf(p->nic_rid, sizeof(p->nic_rid), "%s", nics[i]);
	}
	if (!nic.matched) {
		mg_err_set(e, "no network interface of VM %s has MAC %s or address %s",
			   p->doc.vm_name, p->doc.mac, p->doc.private_ip);
		goto out;
	}
	/* the subnet, and the VNet it belongs to */
	free(buf);
	buf = NULL;
	if (get_rid(p, nic.subnet_id, "subnet", &buf, &len, &err, e) ||
	    az_parse_subnet(buf, len, table, sizeof(table), e))
		goto out;
	snprintf(p->vnet_rid, sizeof(p->vnet_rid), "%s", nic.subnet_id);
	s = strcasestr(p->vnet_rid, "/subnets/");
	if (!s) {
		mg_err_set(e, "subnet id %.120s has no /subnets/", nic.subnet_id);
		goto out;
	}
	*s = '\0';
	free(buf);
	buf = NULL;
	vnet = malloc(sizeof(*vnet));
	if (!vnet) {
		mg_err_set(e, "out of memory");
		goto out;
	}
	if (get_rid(p, p->vnet_rid, "virtual network", &buf, &len, &err, e) ||
	    az_parse_vnet(buf, len, vnet, e))
		goto out;
	snprintf(p->private_ip, sizeof(p->private_ip), "%s", nic.private_ip);
	snprintf(id->instance_id, sizeof(id->instance_id), "%s", p->doc.vm_name);
	snprintf(id->nic_id, sizeof(id->nic_id), "%s", az_rid_name(p->nic_rid));
	snprintf(id->mac, sizeof(id->mac), "%s", nic.mac[0] ? nic.mac : p->doc.mac);
	snprintf(id->private_ip, sizeof(id->private_ip), "%s", nic.private_ip);
	snprintf(id->network_id, sizeof(id->network_id), "%s", az_rid_name(p->vnet_rid));
	snprintf(id->region, sizeof(id->region), "%s", p->doc.location);
	memcpy(id->net_cidrs, vnet->prefixes, vnet->n_prefixes * sizeof(vnet->prefixes[0]));
	id->n_net_cidrs = vnet->n_prefixes;
	log_info("azure: VM %s in %s/%s, NIC %s, subnet %s (route table %s), VNet %s with %zu "
		 "route table%s",
		 p->doc.vm_name, p->doc.subscription, p->doc.resource_group, id->nic_id,
		 az_rid_name(nic.subnet_id), table[0] ? az_rid_name(table) : "none", id->network_id,
		 vnet->n_tables, vnet->n_tables == 1 ? "" : "s");
	p->ready = true;
	rc = 0;
out:
	free(vnet);
	free(buf);
	return rc;
}

static int need_ready(const struct cloud_provider *p, mg_err *e)
{
	return p->ready ? 0 : mg_err_set(e, "Azure provider: identity() must come first");
}

/* ---- forwarding ---- */

/* Doctor: enableIPForwarding of our NIC, read only. */
static int az_read_forwarding(struct cloud_provider *p, const struct cloud_identity *id, bool *on,
			      struct cloud_err *ce)
{
	struct az_nic nic;
	struct az_err err;
	char *buf = NULL;
	size_t len = 0;

	(void)id;
	memset(&err, 0, sizeof(err));
	if (need_ready(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	if (get_rid(p, p->nic_rid, "network interface", &buf, &len, &err, &ce->e)) {
		ce->kind = az_err_kind(&err, ce->permission, sizeof(ce->permission));
		if (ce->kind == CLOUD_ERR_UNAUTHORIZED && !ce->permission[0])
			snprintf(ce->permission, sizeof(ce->permission), "%s",
				 az_permissions[AZ_PERM_NIC_READ]);
		free(buf);
		return -1;
	}
	if (az_parse_nic(buf, len, NULL, NULL, &nic, &ce->e)) {
		free(buf);
		ce->kind = CLOUD_ERR_FATAL;
		return -1;
	}
	free(buf);
	*on = nic.forwarding;
	return 0;
}

static int az_ensure_forwarding(struct cloud_provider *p, const struct cloud_identity *id,
				mg_err *e)
{
	bool wrote = false;

	if (need_ready(p, e))
		return -1;
	for (int round = 0; round < 4; round++) {
		struct az_nic nic;
		struct az_err err;
		char *buf = NULL, *body, cond[160];
		size_t len;
		int r;

		if (get_rid(p, p->nic_rid, "network interface", &buf, &len, &err, e) ||
		    az_parse_nic(buf, len, NULL, NULL, &nic, e)) {
			free(buf);
			return -1;
		}
		if (nic.forwarding) {
			free(buf);
			return 0;
		}
		if (wrote) {
			free(buf);
			return mg_err_set(e, "IP forwarding of %s is still off after the update",
					  id->nic_id);
		}
		if (az_is_vmss_nic(p->nic_rid)) {
			/* the instance's NIC is the scale set model's: ARM refuses a PUT of it */
			char ss[96] = "";
			free(buf);
			az_rid_part(p->nic_rid, "virtualMachineScaleSets", ss, sizeof(ss));
			return mg_err_set(
			    e,
			    "IP forwarding of %s (scale set %s) is off and Azure drops "
			    "what this VM forwards; set enableIPForwarding: true in the "
			    "scale set's model (virtualMachineProfile.networkProfile."
			    "networkInterfaceConfigurations[].properties) and upgrade "
			    "the instances: meshgate does not change a scale set",
			    id->nic_id, ss);
		}
		if (!cloud_may_write(&p->hooks)) {
			free(buf);
			return mg_err_set(e,
					  "IP forwarding of %s is off; not turning it on while "
					  "writes are not allowed",
					  id->nic_id);
		}
		body = az_nic_with_forwarding(buf, len, e);
		free(buf);
		if (!body)
			return mg_err_prefix(e, "network interface %s", id->nic_id);
		snprintf(cond, sizeof(cond), "If-Match: %s", nic.etag);
		char path[AZ_RID_LEN + 64];
		snprintf(path, sizeof(path), "%s?api-version=" AZ_API_NETWORK, p->nic_rid);
		r = az_arm_write(&p->arm, "PUT", path, body, cond, &err, e);
		cJSON_free(body);
		if (r && err.status == 412) {
			log_info("azure: NIC %s changed under us; reading it again", id->nic_id);
			continue;
		}
		if (r) {
			char perm[96];
			if (az_err_kind(&err, perm, sizeof(perm)) == CLOUD_ERR_UNAUTHORIZED &&
			    perm[0])
				return mg_err_set(e,
						  "turning on IP forwarding of %s: the identity "
						  "may not %s; grant it the %s role on the NIC",
						  id->nic_id, perm, az_role_for(perm));
			return mg_err_prefix(e, "turning on IP forwarding of %s", id->nic_id);
		}
		wrote = true;
	}
	return mg_err_set(e, "IP forwarding of %s: the NIC kept changing under us", id->nic_id);
}

/* ---- scopes ---- */

static int list_one(struct cloud_provider *p, const char *rid, struct cloud_scopes *out,
		    struct cloud_err *ce)
{
	struct cloud_scope *s;
	struct az_err err;
	char *buf = NULL, perm[96];
	size_t len;
	mg_err e = {""};

	s = cloud_scopes_add(out, &e);
	if (!s)
		return cloud_err_set(ce, CLOUD_ERR_LIMIT, NULL, "%s", e.msg);
	if (scope_id_of(p, rid, s->id, sizeof(s->id), &e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", e.msg);
	snprintf(s->network_id, sizeof(s->network_id), "%s", az_rid_name(p->vnet_rid));
	if (get_rid(p, rid, "route table", &buf, &len, &err, &e)) {
		enum cloud_err_kind k = az_err_kind(&err, perm, sizeof(perm));
		if (k == CLOUD_ERR_UNAUTHORIZED && perm[0])
			return cloud_err_set(ce, k, perm,
					     "reading route table %s: the identity may not %s; "
					     "grant it the %s role on the table",
					     s->id, perm, az_role_for(perm));
		return cloud_err_set(ce, k, perm, "%s", e.msg);
	}
	int r = az_parse_route_table(buf, len, s, &e);
	free(buf);
	if (r)
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "route table %s: %s", s->id, e.msg);
	return 0;
}

static int az_list(struct cloud_provider *p, const struct cloud_identity *id,
		   const char *const *ids, size_t n_ids, struct cloud_scopes *out,
		   struct cloud_err *ce)
{
	struct az_vnet *v = NULL;
	char rid[AZ_RID_LEN], perm[96];
	int rc = -1;

	(void)id;
	memset(ce, 0, sizeof(*ce));
	if (need_ready(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	if (n_ids) {
		for (size_t i = 0; i < n_ids; i++) {
			if (rid_of(p, ids[i], rid, sizeof(rid), &ce->e))
				return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
			if (list_one(p, rid, out, ce))
				return -1;
		}
		return 0;
	}
	/* every table associated with a subnet of the VNet, as it is now */
	v = malloc(sizeof(*v));
	if (!v)
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "out of memory");
	char *buf = NULL;
	size_t len;
	struct az_err err;
	if (get_rid(p, p->vnet_rid, "virtual network", &buf, &len, &err, &ce->e)) {
		enum cloud_err_kind k = az_err_kind(&err, perm, sizeof(perm));
		cloud_err_set(ce, k, perm, "%s", ce->e.msg);
		goto out;
	}
	if (az_parse_vnet(buf, len, v, &ce->e)) {
		cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
		goto out;
	}
	for (size_t i = 0; i < v->n_tables; i++)
		if (list_one(p, v->tables[i], out, ce))
			goto out;
	rc = 0;
out:
	free(buf);
	free(v);
	return rc;
}

/*
 * Ours: a route named with our prefix (and, when we know it, our network). Its marker
 * connector is this connector when it points at us, else the address it points at (the
 * connector there): the reconciler leaves another connector's route alone unless takeover.
 * Without a known network (`meshgate down` before enrolment data) only routes pointing at
 * us count as ours. Nothing in a user route table is the system's.
 */
static void az_classify(struct cloud_provider *p, const struct cloud_identity *id,
			const struct cloud_scope *s, struct cloud_route *r, bool recorded)
{
	char net[AZ_NET_IN_NAME + 8];

	(void)s, (void)recorded;
	r->to_us = r->target_kind == CLOUD_TARGET_IP && id->private_ip[0] &&
		   !strcmp(r->target_id, id->private_ip);
	if (!az_route_name_marker(r->name, net, sizeof(net))) {
		r->owner = CLOUD_OWNER_FOREIGN;
		return;
	}
	snprintf(r->marker.network, sizeof(r->marker.network), "%s", net);
	if (p->net_marker[0] && p->mesh.network[0]) {
		if (strcmp(net, p->net_marker)) {
			r->owner = CLOUD_OWNER_FOREIGN; /* another mesh network's */
			return;
		}
	} else if (!r->to_us) {
		r->owner = CLOUD_OWNER_FOREIGN;
		return;
	}
	r->owner = CLOUD_OWNER_OURS;
	if (r->to_us)
		snprintf(r->marker.connector, sizeof(r->marker.connector), "%s", p->mesh.connector);
	else
		snprintf(r->marker.connector, sizeof(r->marker.connector), "%.63s",
			 r->target_id[0] ? r->target_id : r->origin);
}

/* ---- plans ---- */

static void item_err(const struct az_err *err, const mg_err *e, const char *table,
		     struct cloud_err *res)
{
	char perm[96];
	enum cloud_err_kind k = az_err_kind(err, perm, sizeof(perm));

	if (k == CLOUD_ERR_UNAUTHORIZED && perm[0])
		cloud_err_set(res, k, perm,
			      "the identity may not %s on route table %s; grant it the %s role "
			      "on the table (or a custom role with %s)",
			      perm, table, az_role_for(perm), perm);
	else if (k == CLOUD_ERR_LIMIT)
		cloud_err_set(res, k, NULL,
			      "route table %s is full (%s); remove unused routes or use "
			      "another table",
			      table, err->code);
	else
		cloud_err_set(res, k, NULL, "%s", e->msg);
}

static int route_path(const char *table_rid, const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/routes/%s?api-version=" AZ_API_NETWORK, table_rid, name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int az_apply(struct cloud_provider *p, const struct cloud_identity *id,
		    struct cloud_plan *plan, struct cloud_err *ce)
{
	char table[AZ_RID_LEN], body[512], path[AZ_RID_LEN + 200], name[AZ_ROUTE_NAME_MAX + 1];
	char cond[200], d[CIDR_STRLEN];

	memset(ce, 0, sizeof(*ce));
	if (need_ready(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	if (rid_of(p, plan->scope->id, table, sizeof(table), &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	for (size_t i = 0; i < plan->n; i++) {
		struct cloud_plan_item *it = &plan->items[i];
		const struct cloud_route *cur = it->cur;
		struct az_err err = {0};
		mg_err e = {""};
		int rc = 0;

		if (cloud_aborted(&p->hooks))
			break; /* the rest stays "not attempted" */
		if (!cloud_may_write(&p->hooks)) {
			cloud_err_set(&it->res, CLOUD_ERR_ABORTED, NULL, "writes not allowed now");
			continue;
		}
		if (az_route_name(p->mesh.network, &it->dst, name, sizeof(name)) ||
		    route_path(table, name, path, sizeof(path))) {
			cloud_err_set(&it->res, CLOUD_ERR_FATAL, NULL, "no valid route name for %s",
				      cidr_format(&it->dst, d));
			continue;
		}
		snprintf(body, sizeof(body),
			 "{\"properties\":{\"addressPrefix\":\"%s\",\"nextHopType\":"
			 "\"VirtualAppliance\",\"nextHopIpAddress\":\"%s\"}}",
			 cidr_format(&it->dst, d), id->private_ip);
		switch (it->op) {
		case CLOUD_OP_CREATE:
			rc = az_arm_write(&p->arm, "PUT", path, body, "If-None-Match: *", &err, &e);
			break;
		case CLOUD_OP_REPLACE:
			if (cur && strcmp(cur->name, name)) {
				/* someone else's name for the destination (takeover): remove
				 * it, then write ours */
				char old[AZ_RID_LEN + 200];
				snprintf(cond, sizeof(cond), "If-Match: %s", cur->description);
				if (route_path(table, cur->name, old, sizeof(old))) {
					rc = cloud_err_set(&it->res, CLOUD_ERR_FATAL, NULL,
							   "route name too long");
					continue;
				}
				rc = az_arm_write(&p->arm, "DELETE", old, NULL,
						  cur->description[0] ? cond : NULL, &err, &e);
				if (rc == 0)
					rc = az_arm_write(&p->arm, "PUT", path, body,
							  "If-None-Match: *", &err, &e);
			} else {
				snprintf(cond, sizeof(cond), "If-Match: %s",
					 cur && cur->description[0] ? cur->description : "*");
				rc = az_arm_write(&p->arm, "PUT", path, body, cond, &err, &e);
			}
			break;
		default:
			if (cur && cur->name[0] &&
			    route_path(table, cur->name, path, sizeof(path))) {
				rc = cloud_err_set(&it->res, CLOUD_ERR_FATAL, NULL,
						   "route name too long");
				continue;
			}
			snprintf(cond, sizeof(cond), "If-Match: %s", cur ? cur->description : "");
			rc = az_arm_write(&p->arm, "DELETE", path, NULL,
					  cur && cur->description[0] ? cond : NULL, &err, &e);
			break;
		}
		if (rc == 0) {
			it->res = (struct cloud_err){.kind = CLOUD_OK};
			continue;
		}
		item_err(&err, &e, plan->scope->id, &it->res);
	}
	return 0;
}

static void az_credential(struct cloud_provider *p, char *text, size_t len, time_t *expires)
{
	if (p->ep.identity[0])
		snprintf(text, len, "user-assigned managed identity, client id %.64s",
			 p->ep.identity);
	else
		snprintf(text, len, "system-assigned managed identity");
	*expires = p->have_tok ? p->tok.expires_on : 0;
}

const struct cloud_provider_ops cloud_azure_ops = {
    .name = "azure",
    .detect = az_detect,
    .open = az_open,
    .close = az_close,
    .identity = az_identity,
    .refresh_credentials = az_refresh,
    .ensure_forwarding = az_ensure_forwarding,
    .read_forwarding = az_read_forwarding,
    .list_scopes = az_list,
    .classify = az_classify,
    .apply_plan = az_apply,
    .credential = az_credential,
};
