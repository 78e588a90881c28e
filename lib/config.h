/* SPDX-License-Identifier: MIT */
/*
 * The config document the controller hands a connector (docs/API.md), parsed into
 * plain structs, checked for form (config_parse) and for safety on this host
 * (config_check_safety). A document that fails either is never applied.
 */
#ifndef MG_CONFIG_H
#define MG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "err.h"
#include "mg_limits.h"
#include "wgkey.h"

/* The document's caps: meshgate's one table of limits (mg_limits.h, docs/LIMITS.md). */
#define CONFIG_MAX_BYTES     MG_LIMIT_CONFIG_BYTES
#define CONFIG_MAX_ROUTES    MG_LIMIT_ROUTES /* kernel routes on the tunnel */
#define CONFIG_MAX_ADVERTISE MG_LIMIT_SUBNETS
#define CONFIG_MAX_EXCLUDE   MG_LIMIT_EXCLUDES
#define CONFIG_MAX_ACCESS    MG_LIMIT_ACCESS
#define CONFIG_MAX_PORTS     MG_LIMIT_PORTS
#define CONFIG_MAX_CLOUD     MG_LIMIT_ROUTES /* cloud.destinations are the routes */
#define CONFIG_ENDPOINT_MAX  262

enum access_mode { ACCESS_FULL, ACCESS_PORTS, ACCESS_DENY };

struct port_range {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t first, last;
};

struct access_rule {
	struct cidr cidr;
	enum access_mode mode;
	struct port_range *ports;
	size_t n_ports;
};

/* "ha" (docs/HA.md): this connector's role in an active/standby network */
#define CONFIG_MAX_HA_PEERS  64
#define CONFIG_HA_TARGETS    3
#define CONFIG_HA_TARGET_MAX 128
struct config_ha_peer {
	char id[64];
	char targets[CONFIG_HA_TARGETS][CONFIG_HA_TARGET_MAX]; /* its cloud next hops */
	size_t n_targets;
};
struct config_ha {
	bool present; /* absent: a network with one connector, always active, no lease */
	bool active;
	int64_t epoch;
	int64_t lease_ms;
	struct config_ha_peer *peers; /* the network's other connectors */
	size_t n_peers;
};
/* config_ha.c: parse the "ha" member of `j` (absent: c->ha stays zero). */
struct cJSON;
int config_parse_ha(const struct cJSON *j, struct config_ha *ha, mg_err *e);

struct mg_config {
	int64_t version;
	char device_id[64];
	char device_name[128];
	struct {
		struct cidr address; /* host bits kept: the tunnel address with its prefix */
		/* dual stack: the IPv6 tunnel address beside an IPv4 `address` (has_address6) */
		struct cidr address6;
		bool has_address6;
		int mtu;
		int keepalive;
		uint8_t hub_public_key[WG_KEY_LEN];
		char hub_endpoint[CONFIG_ENDPOINT_MAX]; /* "host:port" or "[v6]:port" */
	} tunnel;
	struct cidr *routes;
	size_t n_routes;
	struct cidr *advertised;
	size_t n_advertised;
	struct {
		bool enabled;
		struct cidr *exclude;
		size_t n_exclude;
	} nat;
	struct access_rule *access;
	size_t n_access;
	bool egress;
	struct {
		bool manage_routes;
		struct cidr *destinations;
		size_t n_destinations;
	} cloud;
	struct config_ha ha;
};

/* Parse and check the form of a document. On failure `out` is left empty (freeable). */
int config_parse(const char *json, size_t len, struct mg_config *out, mg_err *e);
void config_free(struct mg_config *c);

/* What this host must keep reachable outside the tunnel, and its own subnets. */
struct config_safety {
	struct {
		uint8_t family;
		uint8_t addr[16];
		char what[48]; /* "the controller", "the hub endpoint" */
	} protect[8];
	size_t n_protect;
	const struct cidr *lan; /* directly connected subnets on non-tunnel interfaces */
	size_t n_lan;
	size_t max_routes; /* 0 means CONFIG_MAX_ROUTES */
};

/* Refuse a document that would cut the host off or hijack its LAN. */
int config_check_safety(const struct mg_config *c, const struct config_safety *s, mg_err *e);

/* Parse "tcp/443" or "udp/5000-5100". Returns 0 or -1 with a reason. */
int config_parse_port(const char *s, struct port_range *p, mg_err *e);

/* Split "host:port" / "[v6]:port". Returns 0 or -1. */
int config_split_endpoint(const char *ep, char *host, size_t hostlen, uint16_t *port);

const char *access_mode_name(enum access_mode m);

#endif
