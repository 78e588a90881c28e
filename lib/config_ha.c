/* SPDX-License-Identifier: MIT */
/* The config document's "ha" member (docs/API.md, docs/HA.md). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jsonu.h"

/* A next hop as a provider names it: printable, no spaces, not empty. */
static int copy_target(const cJSON *v, char *out, mg_err *e)
{
	size_t n;

	if (!cJSON_IsString(v) || !(n = strlen(v->valuestring)) || n >= CONFIG_HA_TARGET_MAX)
		return mg_err_set(e, "targets must be strings of 1 to %d characters",
				  CONFIG_HA_TARGET_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v->valuestring[i] <= 0x20 ||
		    (unsigned char)v->valuestring[i] >= 0x7f)
			return mg_err_set(e, "targets must be printable ASCII without spaces");
	memcpy(out, v->valuestring, n + 1);
	return 0;
}

static int parse_peers(const cJSON *arr, struct config_ha *ha, mg_err *e)
{
	const cJSON *it;
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;

	if (!n)
		return 0;
	ha->peers = calloc(n, sizeof(*ha->peers));
	if (!ha->peers)
		return mg_err_set(e, "out of memory");
	cJSON_ArrayForEach(it, arr)
	{
		struct config_ha_peer *p = &ha->peers[i];
		const cJSON *t = NULL, *v;

		if (!cJSON_IsObject(it))
			return mg_err_set(e, "ha.peers[%zu] must be an object", i);
		if (jsonu_copy_str(it, "id", true, p->id, sizeof(p->id), e) < 0 ||
		    jsonu_get_array(it, "targets", false, CONFIG_HA_TARGETS, &t, e) < 0)
			return mg_err_prefix(e, "ha.peers[%zu]", i);
		cJSON_ArrayForEach(v, t)
		{
			if (copy_target(v, p->targets[p->n_targets], e) < 0)
				return mg_err_prefix(e, "ha.peers[%zu]", i);
			p->n_targets++;
		}
		ha->n_peers = ++i;
	}
	return 0;
}

int config_parse_ha(const struct cJSON *j, struct config_ha *ha, mg_err *e)
{
	const cJSON *o = NULL, *peers = NULL;
	const char *role = NULL;

	memset(ha, 0, sizeof(*ha));
	if (jsonu_get_object(j, "ha", false, &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	if (jsonu_get_str(o, "role", true, 16, &role, e) < 0 ||
	    jsonu_get_int(o, "epoch", true, 0, INT64_MAX / 2, &ha->epoch, e) < 0 ||
	    jsonu_get_int(o, "lease_ms", true, 100, 3600000, &ha->lease_ms, e) < 0 ||
	    jsonu_get_array(o, "peers", false, CONFIG_MAX_HA_PEERS, &peers, e) < 0)
		return mg_err_prefix(e, "ha");
	if (strcmp(role, "active") && strcmp(role, "standby"))
		return mg_err_set(e, "ha.role \"%.16s\" is not active or standby", role);
	ha->active = !strcmp(role, "active");
	ha->present = true;
	return parse_peers(peers, ha, e);
}
