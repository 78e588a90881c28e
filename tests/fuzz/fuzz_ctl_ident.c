/* SPDX-License-Identifier: MIT */
/* The controller's host identity input: the two request headers (ident_parse) and the
 * stored holder (ident_from_store_json). Input: "<host id>\n<host name>" or a JSON object.
 * What is accepted is well-formed; every refusal says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_host(const struct ctl_host *h)
{
	if (strlen(h->id) != CTL_HOSTID_LEN)
		abort();
	for (size_t i = 0; i < CTL_HOSTID_LEN; i++)
		if (!((h->id[i] >= '0' && h->id[i] <= '9') || (h->id[i] >= 'a' && h->id[i] <= 'f')))
			abort();
	size_t n = strlen(h->name);
	if (!n || n > CTL_HOSTNAME_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h->name[i] < 0x21 || (unsigned char)h->name[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *nl;
	struct ctl_host h;
	struct ctl_connector c;
	mg_err e = {""};
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	rc = ident_parse(s, nl ? nl + 1 : NULL, &h, &e);
	if (rc < 0 && !e.msg[0])
		abort();
	if (rc > 0)
		check_host(&h);
	if (nl)
		*nl = '\n';

	cJSON *j = cJSON_ParseWithLength(s, size);
	if (j && cJSON_IsObject(j)) {
		memset(&c, 0, sizeof(c));
		e.msg[0] = '\0';
		if (ident_from_store_json(j, &c, &e) < 0) {
			if (!e.msg[0])
				abort();
		} else if (c.ident.holder.id[0]) {
			check_host(&c.ident.holder);
		}
	}
	cJSON_Delete(j);
	free(s);
	return 0;
}
