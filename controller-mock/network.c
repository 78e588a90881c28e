/* SPDX-License-Identifier: MIT */
/* Network objects: strict validation of API/store JSON, and their JSON form. */
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ha.h"
#include "jsonu.h"

void net_free(struct ctl_network *n)
{
	if (!n)
		return;
	free(n->subnets);
	free(n->nat_exclude);
	for (size_t i = 0; i < n->n_access; i++)
		free(n->access[i].ports);
	free(n->access);
	free(n);
}

int ctl_check_name(const char *s, mg_err *e)
{
	if (!*s)
		return mg_err_set(e, "\"name\" must not be empty");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return mg_err_set(e, "\"name\" must not contain control characters");
	return 0;
}

/* An array of strict CIDRs, sorted, exact duplicates dropped. */
static int parse_cidrs(const cJSON *arr, const char *what, size_t max, const char *limit,
		       struct cidr **out, size_t *n_out, const char **code, mg_err *e)
{
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
	const cJSON *it;
	struct cidr *v;

	*out = NULL;
	*n_out = 0;
	if (n > max) {
		*code = "limit_reached";
		return mg_err_set(e, "\"%s\" has %zu entries, more than the limit of %zu (%s)",
				  what, n, max, limit);
	}
	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return mg_err_set(e, "out of memory");
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it)) {
			free(v);
			return mg_err_set(e, "\"%s\"[%zu] must be a string", what, i);
		}
		if (cidr_parse(it->valuestring, &v[i], 0, e) < 0) {
			free(v);
			*code = "invalid_cidr";
			return mg_err_prefix(e, "\"%s\"[%zu]", what, i);
		}
		i++;
	}
	*n_out = cidr_sort_unique(v, n);
	*out = v;
	return 0;
}

static void access_free(struct ctl_access *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].ports);
	free(v);
}

static int parse_access(const cJSON *arr, struct ctl_access **out, size_t *n_out, const char **code,
			mg_err *e)
{
	static const char *const keys[] = {"cidr", "mode", "ports", NULL};
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
	struct ctl_access *v;
	const cJSON *it;

	*out = NULL;
	*n_out = 0;
	if (n > MG_LIMIT_ACCESS) {
		*code = "limit_reached";
		return mg_err_set(e,
				  "\"access\" has %zu entries, more than the limit of %d (access "
				  "entries per network, docs/LIMITS.md)",
				  n, MG_LIMIT_ACCESS);
	}
	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return mg_err_set(e, "out of memory");
	cJSON_ArrayForEach(it, arr)
	{
		struct ctl_access *r = &v[i];
		const char *cidr = NULL, *mode = NULL;
		const cJSON *ports = NULL, *p;

		if (!cJSON_IsObject(it)) {
			mg_err_set(e, "\"access\"[%zu] must be an object", i);
			goto fail;
		}
		if (jsonu_only_keys(it, keys, "access entry", e) < 0 ||
		    jsonu_get_str(it, "cidr", true, CIDR_STRLEN, &cidr, e) < 0 ||
		    jsonu_get_str(it, "mode", true, 16, &mode, e) < 0 ||
		    jsonu_get_array(it, "ports", false, CONFIG_MAX_PORTS, &ports, e) < 0) {
			mg_err_prefix(e, "\"access\"[%zu]", i);
			goto fail;
		}
		if (cidr_parse(cidr, &r->cidr, 0, e) < 0) {
			*code = "invalid_cidr";
			mg_err_prefix(e, "\"access\"[%zu]", i);
			goto fail;
		}
		if (!strcmp(mode, "full")) {
			r->mode = ACCESS_FULL;
		} else if (!strcmp(mode, "ports")) {
			r->mode = ACCESS_PORTS;
		} else if (!strcmp(mode, "deny")) {
			r->mode = ACCESS_DENY;
		} else {
			mg_err_set(e, "\"access\"[%zu]: mode \"%.16s\" is not full, ports or deny",
				   i, mode);
			goto fail;
		}
		if (r->mode == ACCESS_PORTS && (!ports || cJSON_GetArraySize(ports) == 0)) {
			mg_err_set(e, "\"access\"[%zu]: mode \"ports\" needs a non-empty \"ports\"",
				   i);
			goto fail;
		}
		if (r->mode != ACCESS_PORTS && ports && cJSON_GetArraySize(ports) > 0) {
			mg_err_set(e, "\"access\"[%zu]: \"ports\" only goes with mode \"ports\"",
				   i);
			goto fail;
		}
		if (r->mode == ACCESS_PORTS) {
			r->ports = calloc((size_t)cJSON_GetArraySize(ports), sizeof(*r->ports));
			if (!r->ports) {
				mg_err_set(e, "out of memory");
				goto fail;
			}
			cJSON_ArrayForEach(p, ports)
			{
				if (!cJSON_IsString(p)) {
					mg_err_set(
					    e, "\"access\"[%zu].ports: entries must be strings", i);
					goto fail;
				}
				if (config_parse_port(p->valuestring, &r->ports[r->n_ports], e) <
				    0) {
					mg_err_prefix(e, "\"access\"[%zu]", i);
					goto fail;
				}
				r->n_ports++;
			}
		}
		for (size_t k = 0; k < i; k++)
			if (cidr_equal(&v[k].cidr, &r->cidr)) {
				mg_err_set(e, "\"access\": %s is listed twice", cidr);
				goto fail;
			}
		i++;
	}
	*out = v;
	*n_out = n;
	return 0;
fail:
	access_free(v, n);
	return -1;
}

int net_from_json(struct ctl_network *n, const cJSON *j, enum net_parse_mode mode,
		  const char **code, mg_err *e)
{
	static const char *const api_keys[] = {
	    "name", "subnets", "nat", "access", "egress", "manage_cloud_routes", "ha", NULL};
	static const char *const store_keys[] = {
	    "id",     "created_at",          "name", "subnets", "nat", "access",
	    "egress", "manage_cloud_routes", "ha",   NULL};
	static const char *const nat_keys[] = {"enabled", "exclude", NULL};
	const cJSON *subnets = NULL, *nat = NULL, *access = NULL, *exclude = NULL, *ha = NULL;
	struct ctl_ha_net hv = n->ha;
	struct cidr *sv = NULL, *xv = NULL;
	struct ctl_access *av = NULL;
	size_t ns = 0, nx = 0, na = 0;
	const char *name = NULL, *id = NULL;
	bool egress = n->egress, mcr = n->manage_cloud_routes, nat_en = n->nat_enabled;
	int64_t created = n->created_at;
	bool full = mode != NET_PATCH;

	*code = "invalid_request";
	if (jsonu_only_keys(j, mode == NET_STORE ? store_keys : api_keys, "network", e) < 0)
		return -1;
	if (mode == NET_STORE &&
	    (jsonu_get_str(j, "id", true, CTL_ID_LEN, &id, e) < 0 ||
	     jsonu_get_int(j, "created_at", true, 0, INT64_MAX / 2, &created, e) < 0))
		return -1;
	if (id && (strlen(id) != CTL_ID_LEN || strncmp(id, "n-", 2)))
		return mg_err_set(e, "network id \"%s\" is malformed", id);
	if (jsonu_get_str(j, "name", full, CTL_NAME_MAX - 1, &name, e) < 0 ||
	    (name && ctl_check_name(name, e) < 0) ||
	    jsonu_get_array(j, "subnets", false, SIZE_MAX, &subnets, e) < 0 ||
	    jsonu_get_object(j, "nat", false, &nat, e) < 0 ||
	    jsonu_get_array(j, "access", false, SIZE_MAX, &access, e) < 0 ||
	    jsonu_get_bool(j, "egress", false, &egress, e) < 0 ||
	    jsonu_get_bool(j, "manage_cloud_routes", false, &mcr, e) < 0 ||
	    jsonu_get_object(j, "ha", false, &ha, e) < 0)
		return -1;
	if (mode != NET_PATCH)
		ha_net_defaults(&hv); /* a new network, or a store written before HA */
	if (ha && ha_net_from_json(&hv, ha, mode == NET_STORE, e) < 0)
		return -1;
	if (nat && (jsonu_only_keys(nat, nat_keys, "nat", e) < 0 ||
		    jsonu_get_bool(nat, "enabled", false, &nat_en, e) < 0 ||
		    jsonu_get_array(nat, "exclude", false, SIZE_MAX, &exclude, e) < 0))
		return mg_err_prefix(e, "\"nat\"");
	if (subnets &&
	    parse_cidrs(subnets, "subnets", CTL_MAX_SUBNETS,
			"subnets of all networks together, docs/LIMITS.md", &sv, &ns, code, e) < 0)
		return -1;
	if (exclude &&
	    parse_cidrs(exclude, "nat.exclude", CTL_MAX_EXCLUDE,
			"NAT exclusions per network, docs/LIMITS.md", &xv, &nx, code, e) < 0)
		goto fail;
	if (access && parse_access(access, &av, &na, code, e) < 0)
		goto fail;

	/* everything valid: apply */
	if (id)
		snprintf(n->id, sizeof(n->id), "%s", id);
	n->created_at = created;
	if (name)
		snprintf(n->name, sizeof(n->name), "%s", name);
	if (subnets) {
		free(n->subnets);
		n->subnets = sv;
		n->n_subnets = ns;
	}
	if (exclude) {
		free(n->nat_exclude);
		n->nat_exclude = xv;
		n->n_nat_exclude = nx;
	}
	if (access) {
		access_free(n->access, n->n_access);
		n->access = av;
		n->n_access = na;
	}
	n->nat_enabled = nat_en;
	n->egress = egress;
	n->manage_cloud_routes = mcr;
	n->ha = hv;
	return 0;
fail:
	free(sv);
	free(xv);
	return -1;
}

cJSON *cidr_list_json(const struct cidr *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	char buf[CIDR_STRLEN];

	for (size_t i = 0; a && i < n; i++) {
		cJSON *s = cJSON_CreateString(cidr_format(&v[i], buf));
		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *access_json(const struct ctl_access *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	char buf[CIDR_STRLEN], port[32];

	for (size_t i = 0; a && i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *ports;
		if (!o || !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			goto fail;
		}
		if (!cJSON_AddStringToObject(o, "cidr", cidr_format(&v[i].cidr, buf)) ||
		    !cJSON_AddStringToObject(o, "mode", access_mode_name(v[i].mode)))
			goto fail;
		if (v[i].mode != ACCESS_PORTS)
			continue;
		ports = cJSON_AddArrayToObject(o, "ports");
		if (!ports)
			goto fail;
		for (size_t k = 0; k < v[i].n_ports; k++) {
			const struct port_range *p = &v[i].ports[k];
			const char *proto = p->proto == IPPROTO_TCP ? "tcp" : "udp";
			if (p->first == p->last)
				snprintf(port, sizeof(port), "%s/%u", proto, p->first);
			else
				snprintf(port, sizeof(port), "%s/%u-%u", proto, p->first, p->last);
			cJSON *s = cJSON_CreateString(port);
			if (!s || !cJSON_AddItemToArray(ports, s)) {
				cJSON_Delete(s);
				goto fail;
			}
		}
	}
	return a;
fail:
	cJSON_Delete(a);
	return NULL;
}

cJSON *net_to_json(const struct ctl_network *n)
{
	cJSON *o = cJSON_CreateObject(), *nat, *x;

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "id", n->id) ||
	    !cJSON_AddStringToObject(o, "name", n->name) ||
	    !cJSON_AddNumberToObject(o, "created_at", (double)n->created_at))
		goto fail;
	x = cidr_list_json(n->subnets, n->n_subnets);
	if (!x || !cJSON_AddItemToObject(o, "subnets", x)) {
		cJSON_Delete(x);
		goto fail;
	}
	nat = cJSON_AddObjectToObject(o, "nat");
	if (!nat || !cJSON_AddBoolToObject(nat, "enabled", n->nat_enabled))
		goto fail;
	x = cidr_list_json(n->nat_exclude, n->n_nat_exclude);
	if (!x || !cJSON_AddItemToObject(nat, "exclude", x)) {
		cJSON_Delete(x);
		goto fail;
	}
	x = access_json(n->access, n->n_access);
	if (!x || !cJSON_AddItemToObject(o, "access", x)) {
		cJSON_Delete(x);
		goto fail;
	}
	if (!cJSON_AddBoolToObject(o, "egress", n->egress) ||
	    !cJSON_AddBoolToObject(o, "manage_cloud_routes", n->manage_cloud_routes) ||
	    !ha_net_to_json(o, &n->ha))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

struct owned_cidr {
	struct cidr c;
	const struct ctl_network *net;
};

static int owned_cmp(const void *a, const void *b)
{
	return cidr_cmp(&((const struct owned_cidr *)a)->c, &((const struct owned_cidr *)b)->c);
}

/*
 * Sorted by (family, address, prefix length), a CIDR that overlaps any later one overlaps
 * the one right after it (everything in between starts inside it), and the other
 * networks never overlap each other: so one sort and one pass over neighbours find any
 * conflict of `n`, in O(T log T) for T subnets in all (tens of thousands stay fast).
 */
int net_check_conflicts(const struct ctl_store *s, const struct ctl_network *n, mg_err *e)
{
	char a[CIDR_STRLEN], b[CIDR_STRLEN];
	struct owned_cidr *v;
	size_t t = n->n_subnets, k = 0;
	int r = 0;

	for (size_t i = 0; i < n->n_subnets; i++) {
		if (cidr_overlaps(&n->subnets[i], &s->mesh))
			return mg_err_set(e, "subnet %s overlaps the mesh range %s",
					  cidr_format(&n->subnets[i], a), cidr_format(&s->mesh, b));
		if (s->has_mesh6 && cidr_overlaps(&n->subnets[i], &s->mesh6))
			return mg_err_set(e, "subnet %s overlaps the IPv6 mesh range %s",
					  cidr_format(&n->subnets[i], a),
					  cidr_format(&s->mesh6, b));
	}
	for (size_t m = 0; m < s->n_nets; m++)
		if (strcmp(s->nets[m]->id, n->id))
			t += s->nets[m]->n_subnets;
	if (!t)
		return 0;
	v = calloc(t, sizeof(*v));
	if (!v)
		return mg_err_set(e, "out of memory");
	for (size_t i = 0; i < n->n_subnets; i++)
		v[k++] = (struct owned_cidr){n->subnets[i], n};
	for (size_t m = 0; m < s->n_nets; m++) {
		const struct ctl_network *o = s->nets[m];
		if (!strcmp(o->id, n->id))
			continue;
		for (size_t i = 0; i < o->n_subnets; i++)
			v[k++] = (struct owned_cidr){o->subnets[i], o};
	}
	qsort(v, t, sizeof(*v), owned_cmp);
	for (size_t i = 0; i + 1 < t && r == 0; i++) {
		const struct owned_cidr *x = &v[i], *y = &v[i + 1];
		if (!cidr_overlaps(&x->c, &y->c) || (x->net != n && y->net != n))
			continue;
		if (x->net == y->net) {
			r = mg_err_set(e, "subnets %s and %s overlap", cidr_format(&x->c, a),
				       cidr_format(&y->c, b));
		} else {
			const struct owned_cidr *mine = x->net == n ? x : y,
						*o = x->net == n ? y : x;
			r = mg_err_set(e, "subnet %s overlaps %s of network %s (%s)",
				       cidr_format(&mine->c, a), cidr_format(&o->c, b), o->net->id,
				       o->net->name);
		}
	}
	free(v);
	return r;
}

int net_check_limits(const struct ctl_store *s, const struct ctl_network *n, mg_err *e)
{
	size_t t = n->n_subnets;

	for (size_t m = 0; m < s->n_nets; m++)
		if (strcmp(s->nets[m]->id, n->id))
			t += s->nets[m]->n_subnets;
	if (t > MG_LIMIT_SUBNETS)
		return mg_err_set(
		    e,
		    "all networks together would have %zu subnets, more than the limit "
		    "of %d (every connector routes them and every user's AllowedIPs "
		    "lists them; docs/LIMITS.md)",
		    t, MG_LIMIT_SUBNETS);
	return 0;
}
