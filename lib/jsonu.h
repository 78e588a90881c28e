/* SPDX-License-Identifier: MIT */
/* cJSON with bounds: size-capped parsing and typed, validated field access. */
#ifndef MG_JSONU_H
#define MG_JSONU_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* cJSON recurses; refuse documents nested deeper than this before parsing. */
#define JSONU_MAX_DEPTH 32

/* Parse `len` bytes (need not be NUL-terminated); refuse more than `max` bytes, deep
 * nesting and trailing garbage. The root must be an object. */
cJSON *jsonu_parse(const char *buf, size_t len, size_t max, mg_err *e);

/*
 * Typed getters. `required`: absence is an error; otherwise absence leaves *out as is
 * and returns 0. A present field of the wrong type is always an error naming the field.
 * Return 0, or -1 with `e` set.
 */
int jsonu_get_str(const cJSON *obj, const char *key, bool required, size_t maxlen, const char **out,
		  mg_err *e);
/* Copy into a fixed buffer; values of `outlen` or more bytes are rejected. */
int jsonu_copy_str(const cJSON *obj, const char *key, bool required, char *out, size_t outlen,
		   mg_err *e);
int jsonu_get_int(const cJSON *obj, const char *key, bool required, int64_t min, int64_t max,
		  int64_t *out, mg_err *e);
int jsonu_get_bool(const cJSON *obj, const char *key, bool required, bool *out, mg_err *e);
/* An array (possibly empty) of at most `max` items. */
int jsonu_get_array(const cJSON *obj, const char *key, bool required, size_t max, const cJSON **out,
		    mg_err *e);
int jsonu_get_object(const cJSON *obj, const char *key, bool required, const cJSON **out,
		     mg_err *e);

/* Reject members not in the NULL-terminated list `known` (typos must not pass silently). */
int jsonu_only_keys(const cJSON *obj, const char *const known[], const char *where, mg_err *e);

/* cJSON_PrintUnformatted with a NULL check. Caller frees with cJSON_free(). */
char *jsonu_print(const cJSON *j, mg_err *e);

#endif
