/* SPDX-License-Identifier: MIT */
/*
 * The local settings file (/etc/meshgate/meshgate.conf): lines of `key = value`, `#`
 * comments (whole lines, or after a value following a space), blank lines, and optional
 * `[section]` headers: inside `[cloud]`, `takeover = yes` is the key `cloud_takeover`.
 * A value may be double-quoted ("" is the empty string; no escapes). Keys are
 * [a-z0-9_]. The parser knows no keys: it hands each line to a callback, which decides
 * (the agent's table of settings); errors read "PATH:LINE: ...".
 */
#ifndef MG_SETTINGS_H
#define MG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SETTINGS_MAX_FILE     (64u << 10) /* bytes */
#define SETTINGS_MAX_LINE     1024
#define SETTINGS_MAX_KEY      64
#define SETTINGS_PATH_DEFAULT "/etc/meshgate/meshgate.conf"

struct settings_line {
	const char *path; /* as given, for messages */
	int line;         /* 1-based */
	const char *key;  /* with the section prefix */
	const char *value;
};

/* Return 0, or -1 with e set (the parser prefixes "PATH:LINE: "). */
typedef int (*settings_cb)(void *ctx, const struct settings_line *l, mg_err *e);

/* Parse `len` bytes of text (NULs are errors); stops at the first error. */
int settings_parse(const char *text, size_t len, const char *path, settings_cb cb, void *ctx,
		   mg_err *e);

/* Read and parse a file. With missing_ok, a file that does not exist is no error
 * (returns 1, nothing called). */
int settings_load(const char *path, bool missing_ok, settings_cb cb, void *ctx, mg_err *e);

/* yes/no, true/false, on/off, 1/0 into *out; -1 for anything else. */
int settings_bool(const char *v, bool *out);

/* The known key closest to `key` (at most 2 edits, or a prefix/suffix match), or NULL:
 * for "unknown key \"x\" (did you mean \"y\"?)". */
const char *settings_suggest(const char *key, const char *const *known, size_t n);

#endif
