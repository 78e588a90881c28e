/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "state.h"

struct status_file {
	char dir[PATH_MAX];
	cJSON *doc;
	bool dirty;
};

struct status_file *status_open(const char *dir)
{
	struct status_file *sf = calloc(1, sizeof(*sf));
	mg_err e = {""};

	if (!sf)
		return NULL;
	snprintf(sf->dir, sizeof(sf->dir), "%s", dir);
	sf->doc = state_load_status(dir, &e);
	if (!sf->doc || !cJSON_IsObject(sf->doc)) {
		if (e.msg[0] && errno != ENOENT)
			log_warn("status.json unreadable, starting it afresh: %s", e.msg);
		cJSON_Delete(sf->doc);
		sf->doc = cJSON_CreateObject();
	}
	if (!sf->doc) {
		free(sf);
		return NULL;
	}
	return sf;
}

void status_flush(struct status_file *sf)
{
	mg_err e = {""};

	if (!sf || !sf->dirty)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(sf->doc, "updated_at");
	cJSON_AddNumberToObject(sf->doc, "updated_at", (double)time(NULL));
	if (state_save_status(sf->dir, sf->doc, &e) < 0)
		log_warn("could not record status: %s", e.msg);
	sf->dirty = false; /* the next change tries again */
}

void status_close(struct status_file *sf)
{
	if (!sf)
		return;
	status_flush(sf);
	cJSON_Delete(sf->doc);
	free(sf);
}

/* Replace `key` with `item` (ownership taken); a NULL item (out of memory) drops it. */
static void put(struct status_file *sf, const char *key, cJSON *item)
{
	cJSON_DeleteItemFromObjectCaseSensitive(sf->doc, key);
	if (item)
		cJSON_AddItemToObject(sf->doc, key, item);
	sf->dirty = true;
}

static const char *get_str(const struct status_file *sf, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(sf->doc, key);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

void status_set_error(struct status_file *sf, const char *msg)
{
	const char *old;

	if (!sf)
		return;
	old = get_str(sf, "last_error");
	if (!msg || !msg[0]) {
		if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(sf->doc, "last_error")))
			return;
		put(sf, "last_error", cJSON_CreateNull());
		return;
	}
	if (old && !strcmp(old, msg))
		return;
	put(sf, "last_error", cJSON_CreateString(msg));
	put(sf, "last_error_at", cJSON_CreateNumber((double)time(NULL)));
}

void status_set_fetched(struct status_file *sf, int64_t v)
{
	if (!sf)
		return;
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(sf->doc, "last_config_version");

	if (cJSON_IsNumber(it) && it->valuedouble == (double)v)
		return;
	put(sf, "last_config_version", cJSON_CreateNumber((double)v));
}

void status_set_applied(struct status_file *sf, int64_t v)
{
	if (!sf)
		return;
	put(sf, "applied_version", v < 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)v));
}

void status_set_daemon(struct status_file *sf, const char *state, cJSON *details)
{
	cJSON *d = details ? details : cJSON_CreateObject();

	if (!sf || !d) {
		cJSON_Delete(d);
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(d, "state");
	cJSON_DeleteItemFromObjectCaseSensitive(d, "pid");
	cJSON_AddStringToObject(d, "state", state);
	if (!strcmp(state, "starting") || !strcmp(state, "running"))
		cJSON_AddNumberToObject(d, "pid", (double)getpid());
	put(sf, "daemon", d);
}

static void print_list(FILE *f, const char *label, const struct cidr *v, size_t n)
{
	char b[CIDR_STRLEN];
	fprintf(f, "  %-12s", label);
	if (n == 0)
		fprintf(f, " none");
	for (size_t i = 0; i < n && i < 8; i++)
		fprintf(f, " %s", cidr_format(&v[i], b));
	if (n > 8)
		fprintf(f, " ... (%zu in all)", n);
	fprintf(f, "\n");
}

void status_print_config_summary(FILE *f, const struct mg_config *c)
{
	char b[CIDR_STRLEN], b6[CIDR_STRLEN] = "";
	fprintf(f, "Config version %lld for %s%s%s:\n", (long long)c->version,
		c->device_id[0] ? c->device_id : "this connector", c->device_name[0] ? " - " : "",
		c->device_name);
	if (c->tunnel.has_address6)
		cidr_format(&c->tunnel.address6, b6);
	fprintf(f, "  %-12s %s%s%s (MTU %d) to hub %s\n", "tunnel",
		cidr_format(&c->tunnel.address, b), b6[0] ? " " : "", b6, c->tunnel.mtu,
		c->tunnel.hub_endpoint);
	print_list(f, "routes", c->routes, c->n_routes);
	print_list(f, "advertised", c->advertised, c->n_advertised);
	fprintf(f, "  %-12s %s, %zu exclusion%s\n", "NAT", c->nat.enabled ? "on" : "off",
		c->nat.n_exclude, c->nat.n_exclude == 1 ? "" : "s");
	fprintf(f, "  %-12s", "access");
	if (c->n_access == 0)
		fprintf(f, " none (mesh traffic to the LAN is denied)");
	for (size_t i = 0; i < c->n_access && i < 8; i++)
		fprintf(f, " %s=%s", cidr_format(&c->access[i].cidr, b),
			access_mode_name(c->access[i].mode));
	if (c->n_access > 8)
		fprintf(f, " ... (%zu in all)", c->n_access);
	fprintf(f, "\n  %-12s %s\n", "egress",
		c->egress ? "yes (this LAN is an internet exit)" : "no");
	fprintf(f, "  %-12s %s\n", "cloud routes",
		c->cloud.manage_routes ? "managed" : "not managed");
}
