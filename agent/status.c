/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "state.h"

void status_merge(const char *dir, cJSON *fields)
{
	mg_err e = {""};
	cJSON *st = state_load_status(dir, &e), *it, *next;

	if (!st)
		st = cJSON_CreateObject();
	if (!st || !fields) {
		cJSON_Delete(st);
		cJSON_Delete(fields);
		return;
	}
	for (it = fields->child; it; it = next) {
		char key[64];
		next = it->next;
		cJSON *d = cJSON_DetachItemViaPointer(fields, it);
		/* cJSON frees the item's own key while replacing: pass a copy */
		snprintf(key, sizeof(key), "%s", d->string ? d->string : "");
		cJSON_DeleteItemFromObjectCaseSensitive(st, key);
		cJSON_AddItemToObject(st, key, d);
	}
	cJSON_Delete(fields);
	cJSON_DeleteItemFromObjectCaseSensitive(st, "updated_at");
	cJSON_AddNumberToObject(st, "updated_at", (double)time(NULL));
	if (state_save_status(dir, st, &e) < 0)
		log_warn("could not record status: %s", e.msg);
	cJSON_Delete(st);
}

void status_note_error(const char *dir, const char *msg)
{
	cJSON *f = cJSON_CreateObject();
	if (!f)
		return;
	cJSON_AddStringToObject(f, "last_error", msg);
	cJSON_AddNumberToObject(f, "last_error_at", (double)time(NULL));
	status_merge(dir, f);
}

void status_clear_error(const char *dir)
{
	cJSON *f = cJSON_CreateObject();
	if (!f)
		return;
	cJSON_AddNullToObject(f, "last_error");
	status_merge(dir, f);
}

void status_note_config(const char *dir, int64_t v)
{
	cJSON *f = cJSON_CreateObject();
	if (!f)
		return;
	cJSON_AddNumberToObject(f, "last_config_version", (double)v);
	cJSON_AddNullToObject(f, "last_error");
	status_merge(dir, f);
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
	char b[CIDR_STRLEN];
	fprintf(f, "Config version %lld for %s%s%s:\n", (long long)c->version,
		c->device_id[0] ? c->device_id : "this connector",
		c->device_name[0] ? " - " : "", c->device_name);
	fprintf(f, "  %-12s %s (MTU %d) to hub %s\n", "tunnel", cidr_format(&c->tunnel.address, b),
		c->tunnel.mtu, c->tunnel.hub_endpoint);
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
	fprintf(f, "\n  %-12s %s\n", "egress", c->egress ? "yes (this LAN is an internet exit)" : "no");
	fprintf(f, "  %-12s %s\n", "cloud routes", c->cloud.manage_routes ? "managed" : "not managed");
}
