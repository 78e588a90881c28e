/* SPDX-License-Identifier: MIT */
/*
 * The settings file: the syntax layer (lib/settings) with a callback checking what it
 * hands out (keys of [a-z0-9_], values without control characters, line numbers that
 * only grow), then the daemon's table (agent/cli/run_opts) on the same text: every
 * failure has a message that starts with the path and a line number.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run_opts.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_line(void *ctx, const struct settings_line *l, mg_err *e)
{
	int *last = ctx;

	if (l->line <= *last || !l->key[0] || strlen(l->key) >= 2 * SETTINGS_MAX_KEY + 2)
		abort();
	for (const char *k = l->key; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
			abort();
	for (const char *v = l->value; *v; v++)
		if ((unsigned char)*v < 0x20 && *v != '\t')
			abort();
	*last = l->line;
	/* refuse one key to exercise the error path */
	return strcmp(l->key, "refuse") ? 0 : mg_err_set(e, "refused");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run_settings s;
	mg_err e = {{0}};
	int last = 0;

	if (settings_parse((const char *)data, size, "f.conf", check_line, &last, &e) < 0 &&
	    strncmp(e.msg, "f.conf:", 7))
		abort();
	if (run_settings_load_text(&s, (const char *)data, size, "f.conf", &e) < 0 &&
	    strncmp(e.msg, "f.conf", 6))
		abort();
	run_settings_free(&s);
	return 0;
}
