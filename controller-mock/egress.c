/* SPDX-License-Identifier: MIT */
/* Internet egress: which network, which connector, which users (egress.h). */
#include "egress.h"

#include <string.h>

#include "ha.h"

const struct ctl_network *egress_net(const struct ctl_store *s)
{
	for (size_t i = 0; i < s->n_nets; i++)
		if (s->nets[i]->egress)
			return s->nets[i];
	return NULL;
}

int egress_check_conflict(const struct ctl_store *s, const struct ctl_network *n, mg_err *e)
{
	if (!n->egress)
		return 0;
	for (size_t i = 0; i < s->n_nets; i++) {
		const struct ctl_network *o = s->nets[i];
		if (o->egress && strcmp(o->id, n->id) != 0)
			return mg_err_set(e,
					  "network %s (%s) is already the internet egress; at most "
					  "one network can be: set \"egress\": false there first",
					  o->id, o->name);
	}
	return 0;
}

bool egress_conn_exits(const struct ctl_store *s, const struct ctl_connector *c)
{
	const struct ctl_network *n = store_find_net(s, c->network_id);

	return n && n->egress && c->enrolled && !c->revoked && !c->disabled &&
	       ha_routes_subnets(s, c);
}

bool egress_user_full(const struct ctl_store *s, const struct ctl_user *u)
{
	return u->full_tunnel && egress_net(s) != NULL;
}
