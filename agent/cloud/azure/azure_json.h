/* SPDX-License-Identifier: MIT */
/*
 * Azure JSON answers (IMDS, managed-identity token, ARM resources, LRO status, errors):
 * pure, bounded parsers (what tests/fuzz/fuzz_azure_json.c drives), the route-name marker
 * and the resource-id helpers. No network here.
 */
#ifndef MG_AZURE_JSON_H
#define MG_AZURE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cidr.h"
#include "cloud.h"
#include "err.h"

/* All api-versions in one place. */
#define AZ_API_NETWORK "2024-05-01"
#define AZ_API_COMPUTE "2024-07-01"
#define AZ_API_IMDS    "2021-10-01"
#define AZ_API_TOKEN   "2018-02-01"
/* a uniform scale set's instance NIC (.../virtualMachineScaleSets/{s}/virtualMachines/{i}/
 * networkInterfaces/{n}): served by the network provider at this version only */
#define AZ_API_VMSS_NIC "2018-10-01"

#define AZ_JSON_MAX       (4u << 20) /* one ARM answer */
#define AZ_RID_LEN        512        /* an ARM resource id */
#define AZ_MAX_NICS       8
#define AZ_MAX_TABLES     64
#define AZ_ROUTE_PREFIX   "meshgate-"
#define AZ_ROUTE_NAME_MAX 80
#define AZ_NET_IN_NAME    24 /* mesh network characters kept in a route name */

/* IMDS /metadata/instance: what the driver needs. */
struct az_imds_doc {
	char subscription[64];
	char resource_group[96];
	char vm_name[80];
	char vm_id[AZ_RID_LEN]; /* compute.resourceId */
	char location[64];
	char mac[32];        /* "000D3A12010A" of the first interface */
	char private_ip[64]; /* its first private address */
};
int az_parse_imds(const char *buf, size_t len, struct az_imds_doc *d, mg_err *e);

/* Managed identity token (numbers arrive as strings). The caller wipes `access_token`. */
struct az_token {
	char access_token[8192];
	time_t expires_on;
	long expires_in;
};
int az_parse_token(const char *buf, size_t len, struct az_token *t, mg_err *e);
/* {"error", "error_description"} of IMDS / the token endpoint; "" when not that shape. */
void az_parse_imds_error(const char *buf, size_t len, char *out, size_t outlen);

/* VM: the NIC ids of networkProfile, the primary first. */
int az_parse_vm(const char *buf, size_t len, char nics[][AZ_RID_LEN], size_t max, size_t *n,
		mg_err *e);

/* NIC: etag, enableIPForwarding, MAC ("00-0D-3A-..."), and the ip configuration matching
 * `mac` or `ip` (the primary one when nothing is asked): its address and subnet id. */
struct az_nic {
	char etag[96];
	bool forwarding;
	char mac[32];
	char private_ip[64];
	char subnet_id[AZ_RID_LEN];
	bool matched; /* the NIC's MAC or one of its addresses matched */
};
int az_parse_nic(const char *buf, size_t len, const char *mac, const char *ip, struct az_nic *n,
		 mg_err *e);

/* The NIC answer `buf` with properties.enableIPForwarding true, everything else as read: the
 * body of the whole-NIC PUT that turns forwarding on. Heap (cJSON_free), or NULL with `e`. */
char *az_nic_with_forwarding(const char *buf, size_t len, mg_err *e);

/* VNet: its address space and every route table associated with one of its subnets. */
struct az_vnet {
	struct cidr prefixes[CLOUD_MAX_NET_CIDRS];
	size_t n_prefixes;
	char tables[AZ_MAX_TABLES][AZ_RID_LEN];
	size_t n_tables;
};
int az_parse_vnet(const char *buf, size_t len, struct az_vnet *v, mg_err *e);

/* Subnet: its route table id ("" when none). */
int az_parse_subnet(const char *buf, size_t len, char *table_id, size_t table_len, mg_err *e);

/* Route table: s->version = etag, every route appended (name, dst, next hop, state; the
 * route's etag goes to r->description, nextHopType to r->origin). */
int az_parse_route_table(const char *buf, size_t len, struct cloud_scope *s, mg_err *e);

/* LRO status: "InProgress" etc. into status; on Failed/Canceled the error code/message. */
enum az_lro { AZ_LRO_RUNNING, AZ_LRO_SUCCEEDED, AZ_LRO_FAILED };
int az_parse_lro(const char *buf, size_t len, enum az_lro *st, char *code, size_t code_len,
		 char *msg, size_t msg_len, mg_err *e);

/* ARM error body {"error": {"code", "message"}}; 0 when it had that shape. */
int az_parse_error(const char *buf, size_t len, char *code, size_t code_len, char *msg,
		   size_t msg_len);
/* The action named in an AuthorizationFailed message ("... perform action 'X' over ..."). */
bool az_denied_action(const char *msg, char *out, size_t outlen);

/* ---- names and ids ---- */
/* Our route name for `dst`: "meshgate-<network>-<dst with . : / made valid>". */
int az_route_name(const char *network, const struct cidr *dst, char *out, size_t outlen);
/* ARM's route-name rule: 1-80 of [A-Za-z0-9_.-], alnum first, alnum or '_' last. */
bool az_valid_name(const char *s);
/* Ours by name: true with the network part copied out. */
bool az_route_name_marker(const char *name, char *network, size_t netlen);
/* The network id as it appears in names (invalid characters -> '_', truncated). */
void az_name_network(const char *network, char *out, size_t outlen);
/* The last segment of a resource id (its name). */
const char *az_rid_name(const char *rid);
/* The value after "/<key>/" in a resource id (case-insensitive key), copied. */
int az_rid_part(const char *rid, const char *key, char *out, size_t outlen);

#endif
