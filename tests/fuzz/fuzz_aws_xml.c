/* SPDX-License-Identifier: MIT */
/* Every EC2 XML parser on exact-size buffers; results must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_ec2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy: reading one byte past `size` is caught */
	char *buf = malloc(size ? size : 1);
	struct cloud_scopes t = {0};
	struct aws_ec2_error err;
	char next[64];
	mg_err e = {{0}};
	bool on;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (aws_xml_route_tables(buf, size, &t, next, sizeof(next), &e) == 0) {
		if (strlen(next) >= sizeof(next) || t.n > CLOUD_MAX_SCOPES)
			abort();
		for (size_t i = 0; i < t.n; i++) {
			if (!t.v[i].id[0] || t.v[i].n_routes > CLOUD_MAX_ROUTES)
				abort();
			for (size_t j = 0; j < t.v[i].n_routes; j++) {
				const struct cloud_route *r = &t.v[i].routes[j];
				if (r->has_dst && r->dst.family != AF_INET &&
				    r->dst.family != AF_INET6)
					abort();
				if (r->has_dst && cloud_scope_find(&t.v[i], &r->dst) == NULL)
					abort();
			}
		}
	} else if (!e.msg[0]) {
		abort();
	}
	cloud_scopes_free(&t);
	aws_xml_return_true(buf, size, "CreateRouteResponse", &e);
	aws_xml_source_dest_check(buf, size, &on, &e);
	aws_xml_error(buf, size, 400, &err);
	if (strlen(err.code) >= sizeof(err.code) || strlen(err.message) >= sizeof(err.message))
		abort();
	aws_ec2_error_msg(&err, "CreateRoute", &e);
	free(buf);
	return 0;
}
