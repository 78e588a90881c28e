/* SPDX-License-Identifier: MIT */
/* cidr_parse under every flag combination; what parses formats and re-parses equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (unsigned flags = 0; flags < 4; flags++) {
		struct cidr c, c2, m;
		char buf[CIDR_STRLEN];
		mg_err e = {{0}};

		if (cidr_parse(s, &c, flags, &e) < 0) {
			if (!e.msg[0])
				abort(); /* every refusal says why */
			continue;
		}
		if (c.family != AF_INET && c.family != AF_INET6)
			abort();
		if (c.len > cidr_max_len(&c))
			abort();
		m = c;
		cidr_mask(&m);
		if (!(flags & CIDR_ALLOW_HOST_BITS) && memcmp(&m, &c, sizeof(c)))
			abort(); /* host bits slipped through */
		cidr_format(&c, buf);
		if (cidr_parse(buf, &c2, flags & CIDR_ALLOW_HOST_BITS, &e) < 0)
			abort(); /* canonical text must parse */
		if (!cidr_equal(&c, &c2) || memcmp(&c, &c2, sizeof(c)))
			abort();
		if (!cidr_contains(&m, &c) || !cidr_overlaps(&c, &m) ||
		    !cidr_contains_addr(&m, c.family, c.addr))
			abort();
		/* a more permissive flag set accepts whatever a stricter one did */
		if (cidr_parse(s, &c2, flags | CIDR_ALLOW_HOST_BITS | CIDR_ALLOW_BARE, &e) < 0)
			abort();
	}
	free(s);
	return 0;
}
