/* SPDX-License-Identifier: MIT */
/*
 * Cloud providers behind one interface: detect the cloud, learn who we are (instance, NIC,
 * private IP, network, region), keep credentials fresh, make the NIC forward traffic, list
 * the route tables in scope and upsert or delete routes whose next hop is this host.
 */
#ifndef MG_CLOUD_H
#define MG_CLOUD_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"
#include "err.h"

#define CLOUD_ID_LEN 128
#define CLOUD_URL_LEN 256
#define CLOUD_PATH_LEN 256
#define CLOUD_MAX_NET_CIDRS 16
/* Route tables and routes one listing may return before it is refused as absurd. */
#define CLOUD_MAX_TABLES 1000
#define CLOUD_MAX_ROUTES 2000

/* Where a provider's services live. Empty strings mean the provider's defaults. */
struct cloud_endpoints {
	char metadata[CLOUD_URL_LEN]; /* AWS: http://169.254.169.254 */
	char api[CLOUD_URL_LEN];      /* AWS: https://ec2.<region>.amazonaws.com */
	char ca_file[CLOUD_PATH_LEN]; /* trust anchor for the API (tests); "" = system store */
};

struct cloud_identity {
	char instance_id[CLOUD_ID_LEN];
	char nic_id[CLOUD_ID_LEN];
	char mac[32];
	char private_ip[64];
	char network_id[CLOUD_ID_LEN]; /* AWS VPC id */
	char region[64];
	struct cidr net_cidrs[CLOUD_MAX_NET_CIDRS]; /* the VPC's IPv4 blocks */
	size_t n_net_cidrs;
};

enum cloud_target_kind {
	CLOUD_TARGET_NIC,
	CLOUD_TARGET_INSTANCE,
	CLOUD_TARGET_GATEWAY,
	CLOUD_TARGET_OTHER, /* NAT/transit gateway, peering, prefix list... */
};

enum cloud_route_state {
	CLOUD_ROUTE_ACTIVE,
	CLOUD_ROUTE_BLACKHOLE,
	CLOUD_ROUTE_OTHER, /* "filtered" or something newer */
};

struct cloud_route {
	bool has_dst; /* false for routes to a prefix list */
	struct cidr dst;
	enum cloud_target_kind target_kind;
	char target_id[CLOUD_ID_LEN];
	char nic_id[CLOUD_ID_LEN]; /* set whenever the API names the NIC, whatever the kind */
	enum cloud_route_state state;
	char origin[32];
};

struct cloud_route_table {
	char id[CLOUD_ID_LEN];
	char network_id[CLOUD_ID_LEN];
	bool main;
	struct cloud_route *routes;
	size_t n_routes;
};

struct cloud_route_tables {
	struct cloud_route_table *v;
	size_t n, cap;
};

void cloud_route_tables_free(struct cloud_route_tables *t);
/* Append an empty table; returns it, or NULL with `e` set (cap or memory). */
struct cloud_route_table *cloud_route_tables_add(struct cloud_route_tables *t, mg_err *e);
/* Append a route to a table; returns it zeroed, or NULL with `e` set. */
struct cloud_route *cloud_route_table_add(struct cloud_route_table *rt, mg_err *e);
/* The route for exactly `dst` in `rt`, or NULL. */
const struct cloud_route *cloud_route_table_find(const struct cloud_route_table *rt,
						 const struct cidr *dst);

enum cloud_upsert_result {
	CLOUD_UPSERT_CREATED,
	CLOUD_UPSERT_REPLACED,   /* a blackhole route (or ours, retargeted) was replaced */
	CLOUD_UPSERT_UNCHANGED,  /* already pointed at us */
	CLOUD_UPSERT_CONFLICT,   /* someone else's route for that CIDR: left alone, -1 returned */
};

struct cloud_provider; /* one provider's live state (clients, tokens, credentials) */

/*
 * Calls back into the daemon while a blocking provider call is under way: `progress`
 * runs before every attempt and every retry sleep, so a service watchdog sees a daemon
 * that is slow because the API is, not one that hangs.
 */
struct cloud_hooks {
	void (*progress)(void *ud);
	void *ud;
};

struct cloud_provider_ops {
	const char *name;
	/* Short metadata probe: 1 = this cloud, 0 = not (or unreachable in timeout_ms). */
	int (*detect)(const struct cloud_endpoints *ep, long timeout_ms);
	/* `hooks` may be NULL. */
	struct cloud_provider *(*open)(const struct cloud_endpoints *ep,
				       const struct cloud_hooks *hooks, mg_err *e);
	void (*close)(struct cloud_provider *p);
	int (*identity)(struct cloud_provider *p, struct cloud_identity *out, mg_err *e);
	/* Make sure credentials are valid for a while; fetches new ones before they expire,
	 * or now when `force` (after the API rejected them). */
	int (*refresh_credentials)(struct cloud_provider *p, bool force, mg_err *e);
	/* Turn the NIC's source/destination check off (or verify forwarding), then read back. */
	int (*ensure_forwarding)(struct cloud_provider *p, const struct cloud_identity *id,
				 mg_err *e);
	/* The tables listed in `ids` (n_ids > 0), or all tables of id->network_id. */
	int (*list_route_tables)(struct cloud_provider *p, const struct cloud_identity *id,
				 const char *const *ids, size_t n_ids,
				 struct cloud_route_tables *out, mg_err *e);
	/* Route `dst` in `table_id` to this host's NIC. Someone else's route for the same
	 * destination is a conflict (left alone) unless `takeover`. */
	int (*upsert_route)(struct cloud_provider *p, const struct cloud_identity *id,
			    const char *table_id, const struct cidr *dst, bool takeover,
			    enum cloud_upsert_result *res, mg_err *e);
	/* Missing route = success. */
	int (*delete_route)(struct cloud_provider *p, const char *table_id,
			    const struct cidr *dst, mg_err *e);
};

extern const struct cloud_provider_ops cloud_aws_ops;

enum cloud_hint { CLOUD_HINT_NONE, CLOUD_HINT_AWS, CLOUD_HINT_AZURE, CLOUD_HINT_GCP,
		  CLOUD_HINT_OCI };

/* What the DMI strings under <sysfs_root>/class/dmi/id/ say (sysfs_root NULL = "/sys"). */
enum cloud_hint cloud_dmi_hint(const char *sysfs_root);
const char *cloud_hint_name(enum cloud_hint h);

/*
 * Which provider this host runs on: DMI hints first (no network at all when they name no
 * cloud and no metadata endpoint is configured), then a metadata probe of at most
 * `probe_ms`. Returns the provider, or NULL with `why` saying what was found (not an
 * error: most hosts are not cloud VMs).
 */
const struct cloud_provider_ops *cloud_detect(const char *sysfs_root,
					      const struct cloud_endpoints *ep, long probe_ms,
					      mg_err *why);

#endif
