/* SPDX-License-Identifier: MIT */
#include "jsonu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool depth_ok(const char *buf, size_t len)
{
	int depth = 0;
	bool in_str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[') {
			if (++depth > JSONU_MAX_DEPTH)
				return false;
		} else if (c == '}' || c == ']')
			depth--;
	}
	return true;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * cJSON keeps both members of {"a":1,"a":2} and lookups return the first: a second
 * "access" or "token" would pass unseen. Find duplicate keys anywhere (sorting each
 * object's keys, so a hostile document costs n log n, not n squared).
 * Returns 1 and the key in *dup, 0 if none, -1 when out of memory.
 */
static int duplicate_key(const cJSON *j, char *dup, size_t duplen)
{
	const cJSON *a;
	size_t n = 0, k = 0;
	int r = 0;

	for (a = j->child; a; a = a->next) {
		n++;
		if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && (r = duplicate_key(a, dup, duplen)))
			return r;
	}
	if (!cJSON_IsObject(j) || n < 2)
		return 0;
	const char **keys = malloc(n * sizeof(*keys));
	if (!keys)
		return -1;
	for (a = j->child; a; a = a->next)
		keys[k++] = a->string ? a->string : "";
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n && !r; i++)
		if (!strcmp(keys[i - 1], keys[i])) {
			snprintf(dup, duplen, "%s", keys[i]);
			r = 1;
		}
	free(keys);
	return r;
}

cJSON *jsonu_parse(const char *buf, size_t len, size_t max, mg_err *e)
{
	const char *end = NULL;
	cJSON *j;

	if (len > max) {
		mg_err_set(e, "JSON document of %zu bytes is larger than the %zu allowed", len,
			   max);
		return NULL;
	}
	if (len == 0) {
		mg_err_set(e, "empty JSON document");
		return NULL;
	}
	if (memchr(buf, '\0', len)) {
		mg_err_set(e, "JSON document contains a NUL byte");
		return NULL;
	}
	if (!depth_ok(buf, len)) {
		mg_err_set(e, "JSON nested deeper than %d levels", JSONU_MAX_DEPTH);
		return NULL;
	}
	j = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!j) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = (at && at >= buf && at <= buf + len) ? (size_t)(at - buf) : 0;
		mg_err_set(e, "malformed JSON near byte %zu", off);
		return NULL;
	}
	while (end && end < buf + len &&
	       (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
		end++;
	if (end && end < buf + len) {
		cJSON_Delete(j);
		mg_err_set(e, "trailing data after JSON document at byte %zu", (size_t)(end - buf));
		return NULL;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		mg_err_set(e, "JSON document must be an object");
		return NULL;
	}
	char dup[65];
	int d = duplicate_key(j, dup, sizeof(dup));
	if (d) {
		if (d < 0)
			mg_err_set(e, "out of memory checking JSON keys");
		else
			mg_err_set(e, "JSON member \"%s\" appears twice", dup);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

int jsonu_get_str(const cJSON *obj, const char *key, bool required, size_t maxlen, const char **out,
		  mg_err *e)
{
	const cJSON *it = member(obj, key);
	if (!it || cJSON_IsNull(it)) {
		if (required)
			return mg_err_set(e, "\"%s\" is required", key);
		return 0;
	}
	if (!cJSON_IsString(it) || !it->valuestring)
		return mg_err_set(e, "\"%s\" must be a string", key);
	if (strlen(it->valuestring) > maxlen)
		return mg_err_set(e, "\"%s\" is longer than %zu characters", key, maxlen);
	*out = it->valuestring;
	return 0;
}

int jsonu_copy_str(const cJSON *obj, const char *key, bool required, char *out, size_t outlen,
		   mg_err *e)
{
	const char *s = NULL;
	if (jsonu_get_str(obj, key, required, outlen - 1, &s, e) < 0)
		return -1;
	if (s)
		memcpy(out, s, strlen(s) + 1);
	return 0;
}

int jsonu_get_int(const cJSON *obj, const char *key, bool required, int64_t min, int64_t max,
		  int64_t *out, mg_err *e)
{
	const cJSON *it = member(obj, key);
	double d;
	if (!it || cJSON_IsNull(it)) {
		if (required)
			return mg_err_set(e, "\"%s\" is required", key);
		return 0;
	}
	if (!cJSON_IsNumber(it))
		return mg_err_set(e, "\"%s\" must be a number", key);
	d = it->valuedouble;
	if (!isfinite(d) || d != floor(d))
		return mg_err_set(e, "\"%s\" must be an integer", key);
	/*
	 * Compare as integers: (double)INT64_MAX rounds up to 2^63, so a double
	 * comparison lets 2^63 through to an undefined conversion and lets values
	 * just above a large `max` pass. -2^63 and 2^63 are exact doubles.
	 */
	if (d < -9223372036854775808.0 || d >= 9223372036854775808.0 || (int64_t)d < min ||
	    (int64_t)d > max)
		return mg_err_set(e, "\"%s\" must be between %lld and %lld", key, (long long)min,
				  (long long)max);
	*out = (int64_t)d;
	return 0;
}

int jsonu_get_bool(const cJSON *obj, const char *key, bool required, bool *out, mg_err *e)
{
	const cJSON *it = member(obj, key);
	if (!it || cJSON_IsNull(it)) {
		if (required)
			return mg_err_set(e, "\"%s\" is required", key);
		return 0;
	}
	if (!cJSON_IsBool(it))
		return mg_err_set(e, "\"%s\" must be true or false", key);
	*out = cJSON_IsTrue(it);
	return 0;
}

int jsonu_get_array(const cJSON *obj, const char *key, bool required, size_t max, const cJSON **out,
		    mg_err *e)
{
	const cJSON *it = member(obj, key);
	if (!it || cJSON_IsNull(it)) {
		if (required)
			return mg_err_set(e, "\"%s\" is required", key);
		return 0;
	}
	if (!cJSON_IsArray(it))
		return mg_err_set(e, "\"%s\" must be an array", key);
	if ((size_t)cJSON_GetArraySize(it) > max)
		return mg_err_set(e, "\"%s\" has more than %zu entries", key, max);
	*out = it;
	return 0;
}

int jsonu_get_object(const cJSON *obj, const char *key, bool required, const cJSON **out, mg_err *e)
{
	const cJSON *it = member(obj, key);
	if (!it || cJSON_IsNull(it)) {
		if (required)
			return mg_err_set(e, "\"%s\" is required", key);
		return 0;
	}
	if (!cJSON_IsObject(it))
		return mg_err_set(e, "\"%s\" must be an object", key);
	*out = it;
	return 0;
}

int jsonu_only_keys(const cJSON *obj, const char *const known[], const char *where, mg_err *e)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			if (it->string && !strcmp(it->string, known[i]))
				ok = true;
		if (!ok)
			return mg_err_set(e, "%s: unknown field \"%.64s\"", where,
					  it->string ? it->string : "?");
	}
	return 0;
}

char *jsonu_print(const cJSON *j, mg_err *e)
{
	char *s = cJSON_PrintUnformatted(j);
	if (!s)
		mg_err_set(e, "out of memory serialising JSON");
	return s;
}
