/* SPDX-License-Identifier: MIT */
/* config_parse then config_check_safety against a fixed host picture. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cidr lan[3];
	static struct config_safety s;
	static int init;
	struct mg_config c;
	mg_err e = {{0}};
	char *buf;

	if (!init) {
		cidr_parse("192.0.2.0/24", &lan[0], 0, NULL);
		cidr_parse("10.0.0.0/18", &lan[1], 0, NULL);
		cidr_parse("2001:db8:100::/64", &lan[2], 0, NULL);
		s.lan = lan;
		s.n_lan = 3;
		addr_parse("203.0.113.10", &s.protect[0].family, s.protect[0].addr);
		strcpy(s.protect[0].what, "the controller");
		addr_parse("2001:db8::53", &s.protect[1].family, s.protect[1].addr);
		strcpy(s.protect[1].what, "the hub endpoint");
		s.n_protect = 2;
		s.max_routes = 64;
		init = 1;
	}
	buf = malloc(size ? size : 1); /* exact size: over-reads are caught */
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (config_parse(buf, size, &c, &e) < 0) {
		if (!e.msg[0] || c.routes || c.access || c.n_access)
			abort();
		free(buf);
		return 0;
	}
	if (c.version < 1 || c.tunnel.mtu < 1280 || c.tunnel.mtu > 9000)
		abort();
	for (size_t i = 1; i < c.n_routes; i++)
		if (cidr_cmp(&c.routes[i - 1], &c.routes[i]) >= 0)
			abort(); /* sorted and unique */
	for (size_t i = 0; i < c.n_access; i++)
		if ((c.access[i].mode == ACCESS_PORTS) != (c.access[i].n_ports > 0))
			abort();
	e.msg[0] = '\0';
	if (config_check_safety(&c, &s, &e) < 0 && !e.msg[0])
		abort();
	config_check_safety(&c, NULL, &e);
	config_free(&c);
	free(buf);
	return 0;
}
