/* SPDX-License-Identifier: MIT */
/* connstr_parse; on success format and parse again to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[CONNSTR_MAX + 1];
	struct connstr c, d;
	mg_err e = {{0}};

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (connstr_parse(s, &c, &e) < 0) {
		if (!e.msg[0])
			abort();
		free(s);
		return 0;
	}
	if (connstr_check_url(c.url, &e) < 0 || connstr_check_token(c.token, &e) < 0 ||
	    connstr_check_pin(c.pin, &e) < 0)
		abort();
	if (connstr_format(&c, out, sizeof(out), &e) < 0)
		abort();
	if (connstr_parse(out, &d, &e) < 0)
		abort();
	if (strcmp(c.url, d.url) || strcmp(c.token, d.token) || strcmp(c.pin, d.pin))
		abort();
	free(s);
	return 0;
}
