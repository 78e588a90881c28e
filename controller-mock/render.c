/* SPDX-License-Identifier: MIT */
/* The config document of one connector, and its version (bumped only on change). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ha.h"
#include "jsonu.h"

/* Routes: the mesh range(s) and every subnet of every other network, sorted. The cloud
 * route tables get them without the IPv6 mesh range (`mesh6` false): see docs/API.md. */
static cJSON *routes_json(const struct ctl_store *s, const struct ctl_network *own, bool mesh6)
{
	size_t n = 2, k = 0;
	struct cidr *v;
	cJSON *a;

	for (size_t i = 0; i < s->n_nets; i++)
		if (s->nets[i] != own)
			n += s->nets[i]->n_subnets;
	v = calloc(n, sizeof(*v));
	if (!v)
		return NULL;
	v[k++] = s->mesh;
	if (mesh6 && s->has_mesh6)
		v[k++] = s->mesh6;
	for (size_t i = 0; i < s->n_nets; i++)
		for (size_t j = 0; s->nets[i] != own && j < s->nets[i]->n_subnets; j++)
			v[k++] = s->nets[i]->subnets[j];
	n = cidr_sort_unique(v, k);
	a = cidr_list_json(v, n);
	free(v);
	return a;
}

static bool add(cJSON *o, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(o, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

cJSON *render_config(const struct ctl_ctx *ctx, const struct ctl_connector *c, mg_err *e)
{
	const struct ctl_store *s = &ctx->store;
	const struct ctl_network *net = store_find_net(s, c->network_id);
	cJSON *doc = NULL, *dev, *tun, *hub, *nat, *cloud, *net_json = NULL, *routes;
	char b[CIDR_STRLEN], key[WG_KEY_B64_LEN];
	struct cidr addr, addr6 = {0};
	bool has6;

	if (!net || !c->enrolled) {
		mg_err_set(e, "connector %s has no config (not enrolled)", c->id);
		return NULL;
	}
	store_addr(s, c->addr_index, &addr);
	addr.len = s->mesh.len;
	has6 = store_addr6(s, c->addr_index, &addr6);
	addr6.len = s->mesh6.len;
	wgkey_to_base64(ctx->hub_pub, key);
	doc = cJSON_CreateObject();
	net_json = net_to_json(net);
	if (!doc || !net_json)
		goto oom;
	if (!cJSON_AddNumberToObject(doc, "version", (double)c->version))
		goto oom;
	dev = cJSON_AddObjectToObject(doc, "device");
	if (!dev || !cJSON_AddStringToObject(dev, "id", c->id) ||
	    !cJSON_AddStringToObject(dev, "name", c->name))
		goto oom;
	tun = cJSON_AddObjectToObject(doc, "tunnel");
	if (!tun || !cJSON_AddStringToObject(tun, "address", cidr_format(&addr, b)) ||
	    (has6 && !cJSON_AddStringToObject(tun, "address6", cidr_format(&addr6, b))) ||
	    !cJSON_AddNumberToObject(tun, "mtu", CTL_MTU) ||
	    !cJSON_AddNumberToObject(tun, "keepalive", CTL_KEEPALIVE))
		goto oom;
	hub = cJSON_AddObjectToObject(tun, "hub");
	if (!hub || !cJSON_AddStringToObject(hub, "public_key", key) ||
	    !cJSON_AddStringToObject(hub, "endpoint", ctx->hub_endpoint))
		goto oom;
	routes = routes_json(s, net, true);
	if (!routes || !cJSON_AddItemToObject(doc, "routes", routes)) {
		cJSON_Delete(routes);
		goto oom;
	}
	if (!add(doc, "advertised", cidr_list_json(net->subnets, net->n_subnets)))
		goto oom;
	nat = cJSON_DetachItemFromObjectCaseSensitive(net_json, "nat");
	if (!add(doc, "nat", nat) ||
	    !add(doc, "access", cJSON_DetachItemFromObjectCaseSensitive(net_json, "access")) ||
	    !cJSON_AddBoolToObject(doc, "egress", net->egress))
		goto oom;
	cloud = cJSON_AddObjectToObject(doc, "cloud");
	if (!cloud || !cJSON_AddBoolToObject(cloud, "manage_routes", net->manage_cloud_routes) ||
	    !add(cloud, "destinations", routes_json(s, net, false)) || ha_render(s, c, doc) < 0)
		goto oom;
	cJSON_Delete(net_json);
	return doc;
oom:
	cJSON_Delete(net_json);
	cJSON_Delete(doc);
	mg_err_set(e, "out of memory rendering the config of %s", c->id);
	return NULL;
}

char *render_text(const struct ctl_ctx *ctx, const struct ctl_connector *c, mg_err *e)
{
	cJSON *doc = render_config(ctx, c, e);
	char *txt;

	if (!doc)
		return NULL;
	txt = jsonu_print(doc, e);
	cJSON_Delete(doc);
	return txt;
}

/* The document with version 0 (what the version stands for) as text, and its SHA-256. */
static char *text0(const struct ctl_ctx *ctx, const struct ctl_connector *c, uint8_t h[32],
		   mg_err *e)
{
	struct ctl_connector tmp = *c;
	char *txt;

	tmp.version = 0;
	txt = render_text(ctx, &tmp, e);
	if (txt)
		sha256_str(txt, strlen(txt), h);
	return txt;
}

static void drop_doc0(struct ctl_connector *c)
{
	cJSON_free(c->doc0);
	c->doc0 = NULL;
}

/* Render `c`; a changed document bumps its version. 1 bumped, 0 not, -1 error. */
static int settle(struct ctl_ctx *ctx, struct ctl_connector *c, bool keep, mg_err *e)
{
	uint8_t h[32];
	char *txt;
	int bumped = 0;

	drop_doc0(c);
	if (!c->enrolled || c->revoked) {
		c->stale = false;
		return 0;
	}
	txt = text0(ctx, c, h, e);
	if (!txt)
		return -1; /* still stale: the next look tries again */
	c->stale = false;
	if (c->version == 0 || memcmp(h, c->config_hash, 32)) {
		memcpy(c->config_hash, h, 32);
		c->version++;
		bumped = 1;
	}
	if (keep)
		c->doc0 = txt;
	else
		cJSON_free(txt);
	return bumped;
}

int render_mark(struct ctl_ctx *ctx, struct ctl_connector *c, mg_err *e)
{
	int r;

	drop_doc0(c);
	if (!c->enrolled || c->revoked)
		return 0;
	if (c->version > 0) {
		c->stale = true;
		return 0;
	}
	/* just enrolled: its first version (1) is saved with the enrolment */
	r = settle(ctx, c, false, e);
	if (r > 0)
		c->wake = true;
	return r;
}

int render_settle(struct ctl_ctx *ctx, struct ctl_connector *c, bool keep, mg_err *e)
{
	int r;

	if (!c->stale)
		return 0;
	r = settle(ctx, c, keep, e);
	if (r > 0)
		store_touch_conn(&ctx->store, c); /* the new version is saved with it */
	return r;
}

char *render_answer(struct ctl_ctx *ctx, struct ctl_connector *c, mg_err *e)
{
	static const char head[] = "{\"version\":0,";
	char *doc0 = c->doc0, *txt;
	size_t n;

	c->doc0 = NULL;
	if (!doc0 || c->stale || strncmp(doc0, head, sizeof(head) - 1)) {
		cJSON_free(doc0);
		return render_text(ctx, c, e);
	}
	/* the same text with the version in place of the 0 */
	n = strlen(doc0) + 24;
	txt = cJSON_malloc(n);
	if (!txt) {
		cJSON_free(doc0);
		mg_err_set(e, "out of memory answering %s", c->id);
		return NULL;
	}
	snprintf(txt, n, "{\"version\":%lld,%s", (long long)c->version, doc0 + sizeof(head) - 1);
	cJSON_free(doc0);
	return txt;
}

/* Eager: every connector the request may have changed is rendered now. When the request
 * declared the connectors it changed (store_touch_conn), only those can have a new
 * document: nothing else they depend on (networks, the hub) changed. */
int render_refresh(struct ctl_ctx *ctx, mg_err *e)
{
	struct ctl_connector *const *touched;
	size_t n = store_touched(&ctx->store, &touched);
	int bumped = 0, r;

	for (size_t i = 0; i < (n ? n : ctx->store.n_conns); i++) {
		struct ctl_connector *c = n ? touched[i] : ctx->store.conns[i];
		r = settle(ctx, c, false, e);
		if (r < 0)
			return -1;
		if (r > 0)
			c->wake = true;
		bumped += r;
	}
	return bumped;
}
