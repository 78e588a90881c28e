/* SPDX-License-Identifier: MIT */
/* The GCP driver's JSON parsers on arbitrary bytes: every one must refuse cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gcp_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	char tok[GCP_TOKEN_LEN], next[512];
	struct gcp_md_instance md;
	struct gcp_route_list l = {0};
	struct gcp_op op;
	struct gcp_error err;
	long exp;
	bool on;
	mg_err e;

	gcp_parse_token(b, size, tok, sizeof(tok), &exp, &e);
	gcp_parse_md_instance(b, size, &md, &e);
	gcp_parse_instance(b, size, &on, &e);
	gcp_parse_routes_page(b, size, &l, next, sizeof(next), &e);
	gcp_route_list_free(&l);
	if (gcp_parse_operation(b, size, &op, &e) == 0)
		(void)gcp_op_err_kind(&op);
	gcp_parse_error(b, size, 403, &err);
	(void)gcp_err_kind(&err);
	return 0;
}
