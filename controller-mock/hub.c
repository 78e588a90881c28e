/* SPDX-License-Identifier: MIT */
#include "hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void hub_peers_free(struct hub_peer *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].allowed);
	free(v);
}

int hub_desired_peers(const struct ctl_ctx *ctx, struct hub_peer **out, size_t *n, mg_err *e)
{
	const struct ctl_store *s = &ctx->store;
	struct hub_peer *v = calloc(s->n_conns ? s->n_conns : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return mg_err_set(e, "out of memory");
	for (size_t i = 0; i < s->n_conns; i++) {
		const struct ctl_connector *c = s->conns[i];
		const struct ctl_network *net = store_find_net(s, c->network_id);
		struct hub_peer *p = &v[k];

		if (conn_state(c) != CONN_ENROLLED || !net)
			continue;
		p->allowed = calloc(net->n_subnets + 1, sizeof(*p->allowed));
		if (!p->allowed) {
			hub_peers_free(v, k);
			return mg_err_set(e, "out of memory");
		}
		memcpy(p->public_key, c->public_key, WG_KEY_LEN);
		p->connector_id = c->id;
		store_addr(s, c->addr_index, &p->allowed[0]);
		memcpy(p->allowed + 1, net->subnets, net->n_subnets * sizeof(*p->allowed));
		p->n_allowed = net->n_subnets + 1;
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

int hub_sync(struct ctl_ctx *ctx, mg_err *e)
{
	struct hub_peer *v;
	size_t n;

	if (ctx->no_hub)
		return 0;
	if (hub_desired_peers(ctx, &v, &n, e) < 0)
		return mg_err_prefix(e, "hub");
	log_debug("hub %s: %zu peer(s) desired", ctx->hub_ifname, n);
	for (size_t i = 0; i < n; i++) {
		char key[WG_KEY_B64_LEN], ips[1024], b[CIDR_STRLEN];
		size_t off = 0;

		ips[0] = '\0';
		for (size_t k = 0; k < v[i].n_allowed && off < sizeof(ips); k++)
			off += (size_t)snprintf(ips + off, sizeof(ips) - off, "%s%s", k ? "," : "",
						cidr_format(&v[i].allowed[k], b));
		wgkey_to_base64(v[i].public_key, key);
		log_debug("hub peer %s (%s) allowed-ips %s", key, v[i].connector_id, ips);
	}
	hub_peers_free(v, n);
	return 0;
}
