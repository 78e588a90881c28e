/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"

const char *access_mode_name(enum access_mode m)
{
	switch (m) {
	case ACCESS_FULL:
		return "full";
	case ACCESS_PORTS:
		return "ports";
	case ACCESS_DENY:
		return "deny";
	}
	return "?";
}

void config_free(struct mg_config *c)
{
	if (!c)
		return;
	free(c->routes);
	free(c->advertised);
	free(c->nat.exclude);
	for (size_t i = 0; i < c->n_access; i++)
		free(c->access[i].ports);
	free(c->access);
	free(c->cloud.destinations);
	free(c->ha.peers);
	memset(c, 0, sizeof(*c));
}

int config_split_endpoint(const char *ep, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	size_t hl;
	char *end;
	long p;

	if (!ep || !*ep || strlen(ep) >= CONFIG_ENDPOINT_MAX)
		return -1;
	if (ep[0] == '[') {
		const char *close = strchr(ep, ']');
		if (!close || close[1] != ':')
			return -1;
		uint8_t fam, addr[16];
		hl = (size_t)(close - ep - 1);
		if (hl == 0 || hl >= hostlen)
			return -1;
		memcpy(host, ep + 1, hl);
		host[hl] = '\0';
		/* brackets are for IPv6 literals only (no zone: it names a local link) */
		if (addr_parse(host, &fam, addr) < 0 || fam != AF_INET6)
			return -1;
		colon = close + 1;
	} else {
		colon = strrchr(ep, ':');
		if (!colon || memchr(ep, ':', (size_t)(colon - ep)))
			return -1;
		hl = (size_t)(colon - ep);
		if (hl == 0 || hl >= hostlen)
			return -1;
		memcpy(host, ep, hl);
		for (size_t i = 0; i < hl; i++)
			if (!isalnum((unsigned char)ep[i]) && ep[i] != '-' && ep[i] != '.')
				return -1;
	}
	host[hl] = '\0';
	if (!isdigit((unsigned char)colon[1]))
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* Parse an array of strict CIDRs into a sorted, de-duplicated heap array. */
static int parse_cidr_list(const cJSON *arr, const char *what, size_t max, struct cidr **out,
			   size_t *n_out, mg_err *e)
{
	const cJSON *it;
	size_t n = 0, i = 0;

	*out = NULL;
	*n_out = 0;
	if (!arr)
		return 0;
	n = (size_t)cJSON_GetArraySize(arr);
	if (n > max)
		return mg_err_set(e,
				  "\"%s\" has %zu entries, more than the limit of %zu "
				  "(docs/LIMITS.md)",
				  what, n, max);
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return mg_err_set(e, "out of memory");
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it)) {
			mg_err_set(e, "\"%s\"[%zu] must be a string", what, i);
			goto fail;
		}
		if (cidr_parse(it->valuestring, &(*out)[i], 0, e) < 0) {
			mg_err_prefix(e, "\"%s\"[%zu]", what, i);
			goto fail;
		}
		i++;
	}
	*n_out = cidr_sort_unique(*out, n);
	return 0;
fail:
	free(*out);
	*out = NULL;
	return -1;
}

int config_parse_port(const char *s, struct port_range *p, mg_err *e)
{
	char proto[8];
	const char *slash = strchr(s, '/');
	char *end;
	long a, b;

	if (!slash || (size_t)(slash - s) >= sizeof(proto))
		return mg_err_set(e, "port \"%.32s\" must look like tcp/443 or udp/5000-5100", s);
	memcpy(proto, s, (size_t)(slash - s));
	proto[slash - s] = '\0';
	if (!strcmp(proto, "tcp"))
		p->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		p->proto = IPPROTO_UDP;
	else
		return mg_err_set(e, "port \"%.32s\": protocol must be tcp or udp", s);
	if (!isdigit((unsigned char)slash[1]) ||
	    (slash[1] == '0' && isdigit((unsigned char)slash[2]))) /* no "tcp/0443" */
		return mg_err_set(e, "port \"%.32s\": bad port number", s);
	a = strtol(slash + 1, &end, 10);
	b = a;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]) ||
		    (end[1] == '0' && isdigit((unsigned char)end[2])))
			return mg_err_set(e, "port \"%.32s\": bad port range", s);
		b = strtol(end + 1, &end, 10);
	}
	if (*end || a < 1 || a > 65535 || b < a || b > 65535)
		return mg_err_set(e, "port \"%.32s\": ports are 1-65535, ranges low-high", s);
	p->first = (uint16_t)a;
	p->last = (uint16_t)b;
	return 0;
}

static int parse_access(const cJSON *arr, struct mg_config *c, mg_err *e)
{
	const cJSON *it;
	size_t i = 0;

	if (!arr || cJSON_GetArraySize(arr) == 0)
		return 0;
	c->access = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*c->access));
	if (!c->access)
		return mg_err_set(e, "out of memory");
	cJSON_ArrayForEach(it, arr)
	{
		struct access_rule *r = &c->access[i];
		const char *cidr = NULL, *mode = NULL;
		const cJSON *ports = NULL, *p;

		c->n_access = i + 1;
		if (!cJSON_IsObject(it))
			return mg_err_set(e, "\"access\"[%zu] must be an object", i);
		if (jsonu_get_str(it, "cidr", true, CIDR_STRLEN, &cidr, e) < 0 ||
		    jsonu_get_str(it, "mode", true, 16, &mode, e) < 0 ||
		    jsonu_get_array(it, "ports", false, CONFIG_MAX_PORTS, &ports, e) < 0)
			return mg_err_prefix(e, "\"access\"[%zu]", i);
		if (cidr_parse(cidr, &r->cidr, 0, e) < 0)
			return mg_err_prefix(e, "\"access\"[%zu]", i);
		if (!strcmp(mode, "full"))
			r->mode = ACCESS_FULL;
		else if (!strcmp(mode, "ports"))
			r->mode = ACCESS_PORTS;
		else if (!strcmp(mode, "deny"))
			r->mode = ACCESS_DENY;
		else
			return mg_err_set(e,
					  "\"access\"[%zu]: mode \"%.16s\" is not full, ports "
					  "or deny",
					  i, mode);
		if (r->mode == ACCESS_PORTS && (!ports || cJSON_GetArraySize(ports) == 0))
			return mg_err_set(e,
					  "\"access\"[%zu]: mode \"ports\" needs a non-empty "
					  "\"ports\" list",
					  i);
		if (r->mode != ACCESS_PORTS && ports && cJSON_GetArraySize(ports) > 0)
			return mg_err_set(e,
					  "\"access\"[%zu]: \"ports\" only goes with mode "
					  "\"ports\"",
					  i);
		if (ports && cJSON_GetArraySize(ports) > 0) {
			r->ports = calloc((size_t)cJSON_GetArraySize(ports), sizeof(*r->ports));
			if (!r->ports)
				return mg_err_set(e, "out of memory");
			cJSON_ArrayForEach(p, ports)
			{
				if (!cJSON_IsString(p))
					return mg_err_set(e,
							  "\"access\"[%zu].ports: entries must "
							  "be strings",
							  i);
				if (config_parse_port(p->valuestring, &r->ports[r->n_ports], e) < 0)
					return mg_err_prefix(e, "\"access\"[%zu]", i);
				r->n_ports++;
			}
		}
		for (size_t k = 0; k < i; k++)
			if (cidr_equal(&c->access[k].cidr, &r->cidr))
				return mg_err_set(e, "\"access\": %s is listed twice", cidr);
		i++;
	}
	return 0;
}

/* "address6": an IPv6 host address with its prefix, beside an IPv4 "address". */
static int parse_address6(const char *s, struct mg_config *c, mg_err *e)
{
	struct cidr *a = &c->tunnel.address6;

	if (cidr_parse(s, a, CIDR_ALLOW_HOST_BITS, e) < 0)
		return mg_err_prefix(e, "tunnel.address6");
	if (a->family != AF_INET6)
		return mg_err_set(e, "tunnel.address6 \"%.64s\" is not an IPv6 address", s);
	if (c->tunnel.address.family != AF_INET)
		return mg_err_set(e, "tunnel.address6 goes with an IPv4 tunnel.address");
	c->tunnel.has_address6 = true;
	return 0;
}

int config_parse(const char *json, size_t len, struct mg_config *c, mg_err *e)
{
	const cJSON *tun = NULL, *hub = NULL, *dev = NULL, *nat = NULL, *cloud = NULL;
	const cJSON *arr = NULL;
	const char *s = NULL;
	int64_t v = 0;
	cJSON *j;

	memset(c, 0, sizeof(*c));
	j = jsonu_parse(json, len, CONFIG_MAX_BYTES, e);
	if (!j)
		return mg_err_prefix(e, "config");

	if (jsonu_get_int(j, "version", true, 1, INT64_MAX / 2, &c->version, e) < 0)
		goto fail;
	if (jsonu_get_object(j, "device", false, &dev, e) < 0)
		goto fail;
	if (dev &&
	    (jsonu_copy_str(dev, "id", false, c->device_id, sizeof(c->device_id), e) < 0 ||
	     jsonu_copy_str(dev, "name", false, c->device_name, sizeof(c->device_name), e) < 0))
		goto fail;

	if (jsonu_get_object(j, "tunnel", true, &tun, e) < 0 ||
	    jsonu_get_str(tun, "address", true, CIDR_STRLEN, &s, e) < 0)
		goto fail;
	if (cidr_parse(s, &c->tunnel.address, CIDR_ALLOW_HOST_BITS, e) < 0) {
		mg_err_prefix(e, "tunnel.address");
		goto fail;
	}
	s = NULL;
	if (jsonu_get_str(tun, "address6", false, CIDR_STRLEN, &s, e) < 0)
		goto fail;
	if (s && parse_address6(s, c, e) < 0)
		goto fail;
	v = 1420;
	if (jsonu_get_int(tun, "mtu", false, 1280, 9000, &v, e) < 0)
		goto fail;
	c->tunnel.mtu = (int)v;
	v = 25;
	if (jsonu_get_int(tun, "keepalive", false, 0, 3600, &v, e) < 0)
		goto fail;
	c->tunnel.keepalive = (int)v;
	if (jsonu_get_object(tun, "hub", true, &hub, e) < 0 ||
	    jsonu_get_str(hub, "public_key", true, 64, &s, e) < 0)
		goto fail;
	if (wgkey_from_base64(s, c->tunnel.hub_public_key) < 0) {
		mg_err_set(e, "tunnel.hub.public_key is not a base64 WireGuard key");
		goto fail;
	}
	if (jsonu_copy_str(hub, "endpoint", true, c->tunnel.hub_endpoint,
			   sizeof(c->tunnel.hub_endpoint), e) < 0)
		goto fail;
	{
		char host[CONFIG_ENDPOINT_MAX];
		uint16_t port;
		if (config_split_endpoint(c->tunnel.hub_endpoint, host, sizeof(host), &port) < 0) {
			mg_err_set(e,
				   "tunnel.hub.endpoint \"%.64s\" must be host:port or [v6]:port",
				   c->tunnel.hub_endpoint);
			goto fail;
		}
	}

	arr = NULL;
	if (jsonu_get_array(j, "routes", false, SIZE_MAX, &arr, e) < 0 ||
	    parse_cidr_list(arr, "routes", CONFIG_MAX_ROUTES, &c->routes, &c->n_routes, e) < 0)
		goto fail;
	arr = NULL;
	if (jsonu_get_array(j, "advertised", false, SIZE_MAX, &arr, e) < 0 ||
	    parse_cidr_list(arr, "advertised", CONFIG_MAX_ADVERTISE, &c->advertised,
			    &c->n_advertised, e) < 0)
		goto fail;

	if (jsonu_get_object(j, "nat", false, &nat, e) < 0)
		goto fail;
	if (nat) {
		arr = NULL;
		if (jsonu_get_bool(nat, "enabled", false, &c->nat.enabled, e) < 0 ||
		    jsonu_get_array(nat, "exclude", false, SIZE_MAX, &arr, e) < 0 ||
		    parse_cidr_list(arr, "nat.exclude", CONFIG_MAX_EXCLUDE, &c->nat.exclude,
				    &c->nat.n_exclude, e) < 0)
			goto fail;
	}

	arr = NULL;
	if (jsonu_get_array(j, "access", false, SIZE_MAX, &arr, e) < 0 ||
	    (arr && (size_t)cJSON_GetArraySize(arr) > CONFIG_MAX_ACCESS &&
	     mg_err_set(e, "\"access\" has %d entries, more than the limit of %d (docs/LIMITS.md)",
			cJSON_GetArraySize(arr), CONFIG_MAX_ACCESS) < 0) ||
	    parse_access(arr, c, e) < 0)
		goto fail;
	if (jsonu_get_bool(j, "egress", false, &c->egress, e) < 0)
		goto fail;

	if (jsonu_get_object(j, "cloud", false, &cloud, e) < 0)
		goto fail;
	if (cloud) {
		arr = NULL;
		if (jsonu_get_bool(cloud, "manage_routes", false, &c->cloud.manage_routes, e) < 0 ||
		    jsonu_get_array(cloud, "destinations", false, SIZE_MAX, &arr, e) < 0 ||
		    parse_cidr_list(arr, "cloud.destinations", CONFIG_MAX_CLOUD,
				    &c->cloud.destinations, &c->cloud.n_destinations, e) < 0)
			goto fail;
	}
	if (config_parse_ha(j, &c->ha, e) < 0)
		goto fail;
	cJSON_Delete(j);
	return 0;
fail:
	cJSON_Delete(j);
	config_free(c);
	return mg_err_prefix(e, "config");
}

int config_check_safety(const struct mg_config *c, const struct config_safety *s, mg_err *e)
{
	char a[CIDR_STRLEN], b[CIDR_STRLEN];
	size_t max = s && s->max_routes ? s->max_routes : CONFIG_MAX_ROUTES;

	if (c->n_routes > max)
		return mg_err_set(e, "unsafe config: %zu routes, more than the limit of %zu",
				  c->n_routes, max);
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct cidr *r = &c->routes[i];
		if (cidr_is_default(r)) {
			if (!c->egress)
				return mg_err_set(e,
						  "unsafe config: default route %s while egress "
						  "is off would send all of this host's "
						  "traffic into the tunnel",
						  cidr_format(r, a));
			continue; /* egress: kept out of the kernel table, see docs/API.md */
		}
		for (size_t k = 0; s && k < s->n_protect; k++)
			if (cidr_contains_addr(r, s->protect[k].family, s->protect[k].addr)) {
				struct cidr h = {.family = s->protect[k].family};
				memcpy(h.addr, s->protect[k].addr, 16);
				h.len = (uint8_t)cidr_max_len(&h);
				return mg_err_set(e,
						  "unsafe config: route %s covers %s (%s); the "
						  "tunnel would swallow its own transport",
						  cidr_format(r, a), s->protect[k].what,
						  cidr_format_addr(&h, b));
			}
		for (size_t k = 0; s && k < s->n_lan; k++)
			if (cidr_overlaps(r, &s->lan[k]))
				return mg_err_set(e,
						  "unsafe config: route %s overlaps this host's "
						  "own LAN subnet %s",
						  cidr_format(r, a), cidr_format(&s->lan[k], b));
	}
	for (size_t k = 0; s && k < s->n_lan; k++) {
		for (int v6 = 0; v6 < 1 + c->tunnel.has_address6; v6++) {
			struct cidr t = v6 ? c->tunnel.address6 : c->tunnel.address;
			cidr_mask(&t);
			if (cidr_overlaps(&t, &s->lan[k]))
				return mg_err_set(e,
						  "unsafe config: tunnel address range %s overlaps "
						  "this host's LAN subnet %s",
						  cidr_format(&t, a), cidr_format(&s->lan[k], b));
		}
	}
	return 0;
}
