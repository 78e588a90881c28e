/* SPDX-License-Identifier: MIT */
/* Every OCI JSON parser (IMDS, federation, Networking answers, errors) on exact-size buffers;
 * results must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci_api.h"
#include "oci_imds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy: reading one byte past `size` is caught */
	char *buf = malloc(size ? size : 1);
	char *tok = malloc(OCI_TOKEN_MAX);
	struct cloud_scopes ss = {0};
	struct oci_instance in;
	struct oci_vnic_md v;
	struct oci_error err = {.status = 400};
	char a[CLOUD_ID_LEN], b[CLOUD_ID_LEN], ids[16][CLOUD_ID_LEN];
	struct cidr c[CLOUD_MAX_NET_CIDRS];
	struct cloud_mesh_id m;
	size_t n = 0;
	time_t exp;
	bool skip;
	mg_err e = {{0}};
	cJSON *rules = NULL;

	if (!buf || !tok) {
		free(buf);
		free(tok);
		return 0;
	}
	memcpy(buf, data, size);
	if (oci_parse_instance(buf, size, &in, &e) == 0 && (!in.id[0] || !in.region[0]))
		abort();
	if (oci_parse_vnics(buf, size, &v, &e) == 0 && !v.vnic_id[0])
		abort();
	if (oci_parse_federation(buf, size, tok, OCI_TOKEN_MAX, &exp, &e) == 0 && exp <= 0)
		abort();
	(void)oci_parse_vnic(buf, size, &skip, a, sizeof(a), &e);
	(void)oci_parse_private_ips(buf, size, NULL, a, sizeof(a), &e);
	(void)oci_parse_subnet(buf, size, a, sizeof(a), b, sizeof(b), &e);
	if (oci_parse_subnets(buf, size, ids, &n, 16, &e) == 0 && n > 16)
		abort();
	if (oci_parse_vcn(buf, size, c, &n, CLOUD_MAX_NET_CIDRS, &e) == 0 &&
	    (n == 0 || n > CLOUD_MAX_NET_CIDRS))
		abort();
	oci_parse_error(buf, size, &err);
	(void)oci_err_kind(&err);
	struct cloud_scope *s = cloud_scopes_add(&ss, &e);
	if (s && oci_parse_route_table(buf, size, s, &rules, &e) == 0) {
		if (!rules || cJSON_GetArraySize(rules) != (int)s->n_routes)
			abort();
		char *txt = cJSON_PrintUnformatted(rules);
		if (!txt)
			abort();
		cJSON_free(txt);
		for (size_t i = 0; i < s->n_routes; i++)
			(void)oci_marker_parse(s->routes[i].description, &m);
	}
	cJSON_Delete(rules);
	cloud_scopes_free(&ss);
	free(tok);
	free(buf);
	return 0;
}
