/* SPDX-License-Identifier: MIT */
/* The settings file's syntax; what the keys mean is the caller's (see settings.h). */
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *trim_end(const char *p, const char *end)
{
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return end;
}

/* One line [p, end) (no newline). section: in/out, the current section name. */
static int parse_line(const char *p, const char *end, const char *path, int line,
		      char section[SETTINGS_MAX_KEY], settings_cb cb, void *ctx, mg_err *e)
{
	char key[2 * SETTINGS_MAX_KEY + 2], value[SETTINGS_MAX_LINE + 1];
	const char *k, *ke, *v, *ve;
	size_t n;

	p = skip_ws(p, end);
	end = trim_end(p, end);
	if (p == end || *p == '#' || *p == ';')
		return 0;
	if (*p == '[') {
		if (end[-1] != ']')
			return mg_err_set(e, "%s:%d: a section header is [name]", path, line);
		k = skip_ws(p + 1, end - 1);
		ke = trim_end(k, end - 1);
		n = (size_t)(ke - k);
		for (size_t i = 0; i < n; i++)
			if (!key_char(k[i]))
				return mg_err_set(e, "%s:%d: a section name is a-z, 0-9 and _",
						  path, line);
		if (n >= SETTINGS_MAX_KEY)
			return mg_err_set(e, "%s:%d: section name too long", path, line);
		memcpy(section, k, n);
		section[n] = '\0';
		return 0;
	}
	k = p;
	while (p < end && key_char(*p))
		p++;
	ke = p;
	if (ke == k)
		return mg_err_set(e, "%s:%d: expected `key = value` (keys are a-z, 0-9 and _)",
				  path, line);
	if ((size_t)(ke - k) >= SETTINGS_MAX_KEY)
		return mg_err_set(e, "%s:%d: key too long", path, line);
	p = skip_ws(p, end);
	if (p == end || *p != '=')
		return mg_err_set(e, "%s:%d: expected `=` after \"%.*s\"", path, line,
				  (int)(ke - k), k);
	v = skip_ws(p + 1, end);
	if (v < end && *v == '"') {
		const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
		if (!q)
			return mg_err_set(e, "%s:%d: unterminated quote in the value of \"%.*s\"",
					  path, line, (int)(ke - k), k);
		const char *rest = skip_ws(q + 1, end);
		if (rest < end && *rest != '#')
			return mg_err_set(e, "%s:%d: text after the quoted value of \"%.*s\"", path,
					  line, (int)(ke - k), k);
		v++;
		ve = q;
	} else {
		/* a comment starts at " #" (a '#' right after text belongs to the value) */
		ve = v;
		while (ve < end && !(*ve == '#' && (ve == v || ve[-1] == ' ' || ve[-1] == '\t')))
			ve++;
		ve = trim_end(v, ve);
	}
	for (const char *c = v; c < ve; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return mg_err_set(e, "%s:%d: control character in the value of \"%.*s\"",
					  path, line, (int)(ke - k), k);
	if (section[0])
		snprintf(key, sizeof(key), "%s_%.*s", section, (int)(ke - k), k);
	else
		snprintf(key, sizeof(key), "%.*s", (int)(ke - k), k);
	n = (size_t)(ve - v);
	memcpy(value, v, n);
	value[n] = '\0';
	struct settings_line l = {.path = path, .line = line, .key = key, .value = value};
	if (cb(ctx, &l, e) < 0)
		return mg_err_prefix(e, "%s:%d", path, line);
	return 0;
}

int settings_parse(const char *text, size_t len, const char *path, settings_cb cb, void *ctx,
		   mg_err *e)
{
	char section[SETTINGS_MAX_KEY] = "";
	const char *p = text, *end = text + len;
	int line = 0;

	if (len > SETTINGS_MAX_FILE)
		return mg_err_set(e, "%s: larger than %u bytes", path, SETTINGS_MAX_FILE);
	if (memchr(text, '\0', len))
		return mg_err_set(e, "%s: contains a NUL byte (not a text file)", path);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
		line++;
		if (le - p > SETTINGS_MAX_LINE)
			return mg_err_set(e, "%s:%d: line longer than %d bytes", path, line,
					  SETTINGS_MAX_LINE);
		if (parse_line(p, le, path, line, section, cb, ctx, e) < 0)
			return -1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int settings_load(const char *path, bool missing_ok, settings_cb cb, void *ctx, mg_err *e)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (fs_read_bounded(path, SETTINGS_MAX_FILE, &text, &len, e) < 0) {
		if (errno == ENOENT && missing_ok)
			return 1;
		return -1;
	}
	r = settings_parse(text, len, path, cb, ctx, e);
	free(text);
	return r;
}

int settings_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
										    "off", "0"};
	for (size_t i = 0; i < MG_ARRAY_SIZE(yes); i++) {
		if (!strcmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Edit distance, capped: anything above 3 counts as 3. */
static unsigned distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[SETTINGS_MAX_KEY * 2 + 2];

	if (lb >= MG_ARRAY_SIZE(row) || la >= MG_ARRAY_SIZE(row))
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j], best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb] > 3 ? 3 : row[lb];
}

const char *settings_suggest(const char *key, const char *const *known, size_t n)
{
	const char *best = NULL;
	unsigned best_d = 3;
	size_t kl = strlen(key);

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(known[i]);
		unsigned d = distance(key, known[i]);
		/* "takeover" for "cloud_takeover" (no section), "cloud_mss_clamp" for
		 * "mss_clamp" (in the wrong section), "metrics" for "metrics_listen" */
		if (d > 1 && kl >= 4 &&
		    ((l > kl && !strcmp(known[i] + l - kl, key)) ||
		     (kl > l && l >= 4 && !strcmp(key + kl - l, known[i])) ||
		     (l > kl && !strncmp(known[i], key, kl))))
			d = 2;
		if (d < best_d) {
			best_d = d;
			best = known[i];
		}
	}
	return best;
}
