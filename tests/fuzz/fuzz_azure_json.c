/* SPDX-License-Identifier: MIT */
/* Every Azure JSON parser (IMDS, token, VM, NIC and its forwarding PUT body, VNet, subnet,
 * route table, LRO, errors) on exact-size buffers; results must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "azure_json.h"
#include "jsonu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
	if (strnlen(s, cap) >= cap)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy: reading one byte past `size` is caught */
	char *buf = malloc(size ? size : 1);
	static struct az_token tok;
	static struct az_vnet vnet;
	static char nics[AZ_MAX_NICS][AZ_RID_LEN];
	struct az_imds_doc doc;
	struct cloud_scope s = {0};
	struct az_nic nic;
	char table[AZ_RID_LEN], code[96], msg[400], perm[96];
	enum az_lro st;
	size_t n;
	mg_err e = {""};

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (az_parse_imds(buf, size, &doc, &e) == 0) {
		check_str(doc.vm_id, sizeof(doc.vm_id));
		if (!doc.subscription[0] || strchr(doc.subscription, '/'))
			abort();
	} else if (!e.msg[0]) {
		abort();
	}
	e.msg[0] = '\0';
	if (az_parse_token(buf, size, &tok, &e) == 0) {
		if (!tok.access_token[0] || tok.expires_on <= 0)
			abort();
	} else if (!e.msg[0] || tok.access_token[0]) {
		abort();
	}
	az_parse_imds_error(buf, size, msg, sizeof(msg));
	check_str(msg, sizeof(msg));
	if (az_parse_vm(buf, size, nics, AZ_MAX_NICS, &n, &e) == 0 && (n == 0 || n > AZ_MAX_NICS))
		abort();
	if (az_parse_nic(buf, size, "000D3A12010A", "198.18.1.10", &nic, &e) == 0 &&
	    (!nic.subnet_id[0] || !nic.etag[0]))
		abort();
	char *put = az_nic_with_forwarding(buf, size, &e);
	if (put) {
		/* the PUT body: JSON again, with forwarding on */
		mg_err pe = {""};
		cJSON *j = jsonu_parse(put, strlen(put), AZ_JSON_MAX * 2, &pe);
		const cJSON *props = j ? cJSON_GetObjectItemCaseSensitive(j, "properties") : NULL;
		if (!j ||
		    !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(props, "enableIPForwarding")))
			abort();
		cJSON_Delete(j);
		cJSON_free(put);
	}
	if (az_parse_vnet(buf, size, &vnet, &e) == 0 &&
	    (vnet.n_prefixes == 0 || vnet.n_prefixes > CLOUD_MAX_NET_CIDRS ||
	     vnet.n_tables > AZ_MAX_TABLES))
		abort();
	az_parse_subnet(buf, size, table, sizeof(table), &e);
	if (az_parse_route_table(buf, size, &s, &e) == 0) {
		for (size_t i = 0; i < s.n_routes; i++) {
			const struct cloud_route *r = &s.routes[i];
			char net[64];
			if (!az_valid_name(r->name))
				abort();
			if (r->has_dst && cloud_scope_find(&s, &r->dst) == NULL)
				abort();
			az_route_name_marker(r->name, net, sizeof(net));
			check_str(net, sizeof(net));
		}
	}
	free(s.routes);
	if (az_parse_lro(buf, size, &st, code, sizeof(code), msg, sizeof(msg), &e) == 0 &&
	    st != AZ_LRO_RUNNING && st != AZ_LRO_SUCCEEDED && st != AZ_LRO_FAILED)
		abort();
	if (az_parse_error(buf, size, code, sizeof(code), msg, sizeof(msg)) == 0) {
		if (!code[0])
			abort();
		if (az_denied_action(msg, perm, sizeof(perm)) && !perm[0])
			abort();
	}
	free(buf);
	return 0;
}
