/* SPDX-License-Identifier: MIT */
/* jsonu_parse on exact-size buffers, then every getter on every member. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const known[] = {"a", "version", "url", NULL};
	/* an exact-size heap copy: reading one byte past `size` is caught */
	char *buf = malloc(size ? size : 1);
	mg_err e = {{0}};
	const cJSON *it;
	cJSON *j;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	j = jsonu_parse(buf, size, 1 << 16, &e);
	if (!j) {
		if (!e.msg[0])
			abort();
		free(buf);
		return 0;
	}
	if (!cJSON_IsObject(j))
		abort();
	cJSON_ArrayForEach(it, j)
	{
		const char *key = it->string, *s = NULL;
		const cJSON *o = NULL;
		int64_t v = 0;
		bool b;
		char small[8];

		if (!key)
			abort();
		jsonu_get_str(j, key, true, 16, &s, &e);
		jsonu_copy_str(j, key, false, small, sizeof(small), &e);
		if (jsonu_get_int(j, key, true, INT64_MIN, INT64_MAX, &v, &e) == 0 &&
		    jsonu_get_int(j, key, true, -1000, 1000, &v, &e) == 0 &&
		    (v < -1000 || v > 1000))
			abort();
		jsonu_get_bool(j, key, false, &b, &e);
		jsonu_get_array(j, key, false, 4, &o, &e);
		jsonu_get_object(j, key, false, &o, &e);
	}
	jsonu_only_keys(j, known, "fuzz", &e);
	char *txt = jsonu_print(j, &e);
	if (txt) {
		/* what we print we must read back */
		cJSON *k = jsonu_parse(txt, strlen(txt), SIZE_MAX, &e);
		if (!k)
			abort();
		cJSON_Delete(k);
		cJSON_free(txt);
	}
	cJSON_Delete(j);
	free(buf);
	return 0;
}
