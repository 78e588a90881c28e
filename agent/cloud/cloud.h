/* SPDX-License-Identifier: MIT */
/*
 * The cloud provider contract. Every driver (agent/cloud/<provider>/) fills one
 * `struct cloud_provider_ops`; the provider-neutral reconciler (reconcile.c) and the
 * manager (cloudmgr.c, run by the worker thread of worker.c) drive it. agent/cloud/README.md
 * says how to add a provider; this header is the contract it is written against.
 *
 * Words:
 *  - scope: one unit the routes live in and that is written as a whole or route by route:
 *    a route table (AWS, Azure, OCI) or the whole network (GCP: VPC-global routes).
 *  - route: one destination CIDR in a scope with a next hop.
 *  - ownership: the driver classifies every listed route as ours, foreign (someone else's:
 *    a conflict when it holds one of our destinations) or system-owned (the cloud's own: never
 *    touched, not even reported as a conflict to take over). Where the provider has a
 *    marker on routes (Azure route name, GCP name + description, OCI rule description) the
 *    classification also says which mesh network and connector wrote it, so that a route
 *    of another connector of the same network is recognised as such (HA takeover).
 *  - plan: what the reconciler wants done in one scope (creates, replaces, deletes). The
 *    driver applies it its own way (AWS: one call per item; Azure: PUT/DELETE per route
 *    name and wait for the LRO; GCP: insert the new route, then delete the old one; OCI:
 *    one PUT of the whole rule list under If-Match) and returns a result per item.
 *  - conditional writes: "the scope changed under us" (OCI 412, AWS RouteAlreadyExists on a
 *    create, Azure etag mismatch, GCP 409 on a name we did not list) is the result kind
 *    CLOUD_ERR_PRECONDITION; the reconciler re-lists that scope and plans again, a bounded
 *    number of times. Drivers never resolve such a race themselves.
 *
 * Threads: a provider handle is used by one thread at a time (the cloud worker); drivers
 * keep no global state besides constant tables. Every network call must be bounded (connect
 * and total timeouts) and must give up promptly when hooks.aborted() says so (httpc.h's
 * abort hook and cloud_sleep_ms() do that).
 */
#ifndef MG_CLOUD_H
#define MG_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cidr.h"
#include "err.h"

#define CLOUD_ID_LEN        128
#define CLOUD_URL_LEN       256
#define CLOUD_PATH_LEN      256
#define CLOUD_MAX_NET_CIDRS 16
/* Scopes and routes one listing may return before it is refused as absurd. */
#define CLOUD_MAX_SCOPES 1000
#define CLOUD_MAX_ROUTES 2000

/* Where a provider's services live. Empty strings mean the provider's defaults. */
struct cloud_endpoints {
	char metadata[CLOUD_URL_LEN]; /* AWS: http://169.254.169.254 */
	char api[CLOUD_URL_LEN];      /* AWS: https://ec2.<region>.amazonaws.com */
	char ca_file[CLOUD_PATH_LEN]; /* trust anchor for the API (tests); "" = system store */
	char identity[64]; /* Azure: a user-assigned identity's client id; "" = system-assigned */
};

/* Who this connector is in the mesh: what a driver writes into its ownership marker. */
struct cloud_mesh_id {
	char network[64];   /* the mesh network's id */
	char connector[64]; /* this connector's device id */
};

/*
 * Calls back into the one who runs the provider (the worker). Both may be NULL.
 *  - aborted: true = give up the current operation now (shutdown, teardown, a newer
 *    pass). Checked by the HTTP transfer's progress callback, before every attempt and
 *    in every retry or LRO-poll sleep. The operation then fails with CLOUD_ERR_ABORTED.
 *  - may_write: false = no mutating call may START (fencing: another connector took
 *    over). Checked before every single mutating request; reads stay allowed.
 */
/* The result class of one API request (cloud_calls.h names them for the metrics). */
enum cloud_call_result {
	CLOUD_CALL_OK,           /* 2xx */
	CLOUD_CALL_THROTTLED,    /* 429 or the provider's throttling code */
	CLOUD_CALL_DENIED,       /* 401, 403: credentials or a permission */
	CLOUD_CALL_CLIENT_ERROR, /* any other 4xx (not found, conflict, precondition...) */
	CLOUD_CALL_SERVER_ERROR, /* 5xx */
	CLOUD_CALL_NO_ANSWER,    /* no HTTP answer: connect error, timeout */
	CLOUD_CALL_RESULTS
};

struct cloud_hooks {
	bool (*aborted)(void *ud);
	bool (*may_write)(void *ud);
	void *ud;
	/* Optional: one API request done (each attempt); `slot` from cloud_call_slot(). Called
	 * through cloud_call_count() only. */
	void (*api_call)(void *ud, unsigned slot, enum cloud_call_result res);
};
bool cloud_aborted(const struct cloud_hooks *h);
bool cloud_may_write(const struct cloud_hooks *h);
/* Sleep up to `ms` in short slices; false (early) when aborted. */
bool cloud_sleep_ms(const struct cloud_hooks *h, long ms);
/*
 * THE counting point of cloud API requests: every driver calls it once per HTTP exchange
 * with its provider's API (each attempt, retries included; never for an aborted one).
 * `action` is one of the provider's fixed table in cloud_calls.c (anything else counts as
 * "other"); `http_status` 0 = no answer; `throttled` = the provider's own throttling code
 * in an answer that is not a 429 (EC2 RequestLimitExceeded, GCP rateLimitExceeded).
 */
void cloud_call_count(const struct cloud_hooks *h, const char *provider, const char *action,
		      long http_status, bool throttled);

struct cloud_open_opts {
	struct cloud_endpoints ep;
	struct cloud_mesh_id mesh;
	struct cloud_hooks hooks;
	/* GCP: route priority (when set; else 1000) and comma-separated instance tags
	 * ("" = every instance) */
	bool gcp_priority_set;
	int gcp_priority;
	char gcp_tags[256];
};

struct cloud_identity {
	char instance_id[CLOUD_ID_LEN];
	char nic_id[CLOUD_ID_LEN];
	char mac[32];
	char private_ip[64];
	char network_id[CLOUD_ID_LEN]; /* AWS VPC id, Azure VNet, GCP network, OCI VCN */
	char region[64];
	struct cidr net_cidrs[CLOUD_MAX_NET_CIDRS]; /* the network's own blocks */
	size_t n_net_cidrs;
};

/* ---- error kinds (status and logs say these; drivers map their codes onto them) ---- */
enum cloud_err_kind {
	CLOUD_OK = 0,
	CLOUD_ERR_THROTTLED,    /* rate limited even after the driver's retries */
	CLOUD_ERR_UNAUTHORIZED, /* a permission is missing (cloud_err.permission) or creds bad */
	CLOUD_ERR_LIMIT,        /* a quota: routes per table, rules per table */
	CLOUD_ERR_NOT_FOUND,    /* the scope or resource is gone */
	CLOUD_ERR_CONFLICT,     /* someone else's object is in the way */
	CLOUD_ERR_PRECONDITION, /* the scope changed under us: re-list and re-plan */
	CLOUD_ERR_TRANSIENT,    /* network trouble, 5xx after retries */
	CLOUD_ERR_FATAL,        /* a malformed answer, a bug, an invalid request */
	CLOUD_ERR_ABORTED,      /* not (fully) done: aborted, fenced, or never attempted */
	CLOUD_ERR_KINDS
};
const char *cloud_err_kind_name(enum cloud_err_kind k);

struct cloud_err {
	enum cloud_err_kind kind;
	char permission[96]; /* UNAUTHORIZED: what to grant, e.g. "ec2:CreateRoute"; or "" */
	mg_err e;            /* one actionable line */
};
/* Set all three; returns -1. `perm` may be NULL. */
int cloud_err_set(struct cloud_err *ce, enum cloud_err_kind kind, const char *perm, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));

/* ---- what a listing returns ---- */
enum cloud_target_kind {
	CLOUD_TARGET_NIC,
	CLOUD_TARGET_INSTANCE,
	CLOUD_TARGET_GATEWAY,
	CLOUD_TARGET_IP,    /* Azure VirtualAppliance, GCP nextHopIp */
	CLOUD_TARGET_OTHER, /* NAT/transit gateway, peering, prefix list... */
};

enum cloud_route_state {
	CLOUD_ROUTE_ACTIVE,
	CLOUD_ROUTE_BLACKHOLE, /* its next hop is gone (AWS; GCP "inactive" warnings) */
	CLOUD_ROUTE_OTHER,     /* "filtered", "provisioning" or something newer */
};

enum cloud_owner {
	CLOUD_OWNER_FOREIGN = 0, /* someone else's: never changed unless takeover, never deleted */
	CLOUD_OWNER_OURS,        /* written by meshgate (this or, see marker, another connector) */
	CLOUD_OWNER_SYSTEM,      /* the cloud's own (AWS local/propagated, OCI LOCAL): hands off */
};

struct cloud_route {
	bool has_dst; /* false for routes to a prefix list or a service */
	struct cidr dst;
	enum cloud_target_kind target_kind;
	char target_id[CLOUD_ID_LEN];
	char nic_id[CLOUD_ID_LEN]; /* set whenever the API names the NIC, whatever the kind */
	enum cloud_route_state state;
	char name[CLOUD_ID_LEN]; /* the provider's key where (scope, dst) is not (Azure, GCP) */
	char origin[32];         /* driver-private (AWS origin, OCI routeType) */
	char description[128];   /* driver-private (GCP description, OCI rule description) */
	/* set by ops->classify(); the reconciler reads only these and dst/state */
	enum cloud_owner owner;
	bool to_us;                  /* the next hop is this very host */
	struct cloud_mesh_id marker; /* who marked it ("" where the provider has no marker) */
};

struct cloud_scope {
	char id[CLOUD_ID_LEN]; /* route table id; GCP: the network */
	char network_id[CLOUD_ID_LEN];
	char version[CLOUD_ID_LEN]; /* etag for a conditional write (OCI, Azure); "" */
	bool main;
	struct cloud_route *routes;
	size_t n_routes, routes_cap;
};

struct cloud_scopes {
	struct cloud_scope *v;
	size_t n, cap;
};

void cloud_scopes_free(struct cloud_scopes *s);
/* Append an empty scope; returns it, or NULL with `e` set (cap or memory). */
struct cloud_scope *cloud_scopes_add(struct cloud_scopes *s, mg_err *e);
/* Append a zeroed route; returns it, or NULL with `e` set. */
struct cloud_route *cloud_scope_add_route(struct cloud_scope *s, mg_err *e);
/* The route for exactly `dst` in `s`, or NULL. */
const struct cloud_route *cloud_scope_find(const struct cloud_scope *s, const struct cidr *dst);

/* ---- plans ---- */
enum cloud_op {
	CLOUD_OP_CREATE,  /* no route for dst in the scope: add one to this host */
	CLOUD_OP_REPLACE, /* `cur` exists (ours gone stale, a blackhole, or taken over): point it
			   * at this host (GCP: insert a new route, then delete cur) */
	CLOUD_OP_DELETE,  /* `cur` is ours and no longer wanted; already gone = success */
};

struct cloud_plan_item {
	enum cloud_op op;
	struct cidr dst;
	const struct cloud_route *cur; /* REPLACE/DELETE: the route as listed; NULL for CREATE */
	struct cloud_err res; /* in: kind ABORTED ("not attempted"); out: CLOUD_OK when done */
};

struct cloud_plan {
	const struct cloud_scope *scope; /* as listed (id, version) */
	struct cloud_plan_item *items;
	size_t n;
};

struct cloud_provider; /* one provider's live state (clients, tokens, credentials) */

struct cloud_provider_ops {
	const char *name; /* "aws": status, logs, cloud.json, --cloud */
	/* Short metadata probe: 1 = this cloud, 0 = not (or unreachable in timeout_ms). */
	int (*detect)(const struct cloud_endpoints *ep, long timeout_ms);
	/* No network needed; keeps a copy of `o`. */
	struct cloud_provider *(*open)(const struct cloud_open_opts *o, mg_err *e);
	void (*close)(struct cloud_provider *p);
	/* Who we are (metadata service); must come before the calls below. */
	int (*identity)(struct cloud_provider *p, struct cloud_identity *out, mg_err *e);
	/* Make sure credentials are valid for a while; fetches new ones before they expire,
	 * or now when `force` (after the API rejected them). */
	int (*refresh_credentials)(struct cloud_provider *p, bool force, mg_err *e);
	/* Make the NIC forward traffic for others (turn it on if off), then read it back. */
	int (*ensure_forwarding)(struct cloud_provider *p, const struct cloud_identity *id,
				 mg_err *e);
	/*
	 * Append the scopes named in `ids` (n_ids > 0) or every scope of id->network_id,
	 * each with all its routes and its version (etag) if writes are conditional. Read
	 * only. -1 with `ce` set when the listing as a whole failed.
	 */
	int (*list_scopes)(struct cloud_provider *p, const struct cloud_identity *id,
			   const char *const *ids, size_t n_ids, struct cloud_scopes *out,
			   struct cloud_err *ce);
	/*
	 * Set r->owner, r->to_us and r->marker by the provider's rules. `recorded`: the
	 * agent's state records (scope, dst) as created by meshgate (for providers without a
	 * marker: AWS). Pure: no network.
	 */
	void (*classify)(struct cloud_provider *p, const struct cloud_identity *id,
			 const struct cloud_scope *s, struct cloud_route *r, bool recorded);
	/*
	 * Apply a plan to plan->scope. Every item comes in with res.kind ABORTED; set each
	 * one's res (CLOUD_OK when done; PRECONDITION when the scope was not as listed, e.g. a
	 * create finds the destination taken, a replace finds it gone). Check
	 * cloud_may_write() before every mutating request and cloud_aborted() between items;
	 * items not attempted stay ABORTED. Returns 0 when per-item results say it all, -1
	 * with `ce` set when the plan failed as a whole (a whole-scope write rejected with
	 * PRECONDITION on an etag mismatch, for one): then the items' results may be left.
	 */
	int (*apply_plan)(struct cloud_provider *p, const struct cloud_identity *id,
			  struct cloud_plan *plan, struct cloud_err *ce);
	/*
	 * Optional (meshgate doctor; NULL = cannot tell): read, never change, whether the
	 * NIC may carry traffic for others (AWS source/dest check off, Azure
	 * enableIPForwarding, GCP canIpForward, OCI skipSourceDestCheck). 0 with *on set, or
	 * -1 with `ce` set (UNAUTHORIZED names the missing permission).
	 */
	int (*read_forwarding)(struct cloud_provider *p, const struct cloud_identity *id, bool *on,
			       struct cloud_err *ce);
	/*
	 * Optional (status; NULL = not shown): which credential the driver uses, in `text`
	 * ("system-assigned managed identity", "instance role NAME"...; "" = none yet), and
	 * when the current token or credentials expire (0 = unknown, none yet, or never).
	 * Never a secret. No network.
	 */
	void (*credential)(struct cloud_provider *p, char *text, size_t len, time_t *expires);
};

extern const struct cloud_provider_ops cloud_aws_ops;
extern const struct cloud_provider_ops cloud_azure_ops;
extern const struct cloud_provider_ops cloud_gcp_ops;
extern const struct cloud_provider_ops cloud_oci_ops;

enum cloud_hint {
	CLOUD_HINT_NONE,
	CLOUD_HINT_AWS,
	CLOUD_HINT_AZURE,
	CLOUD_HINT_GCP,
	CLOUD_HINT_OCI
};

/* What the DMI strings under <sysfs_root>/class/dmi/id/ say (sysfs_root NULL = "/sys"). */
enum cloud_hint cloud_dmi_hint(const char *sysfs_root);
const char *cloud_hint_name(enum cloud_hint h);

/*
 * Which provider this host runs on: DMI hints first (no network at all when they name no
 * cloud and no metadata endpoint is configured), then a metadata probe of at most
 * `probe_ms`. Returns the provider, or NULL with `why` saying what was found (not an
 * error: most hosts are not cloud VMs; `why` does not repeat "not a cloud VM").
 */
const struct cloud_provider_ops *
cloud_detect(const char *sysfs_root, const struct cloud_endpoints *ep, long probe_ms, mg_err *why);
/*
 * A service's base URL into `out`: `given` if set, else `dflt`; trailing '/' removed; it
 * must be http:// or https:// (`what` names it in the error: "metadata URL").
 */
int cloud_base_url(char *out, size_t len, const char *given, const char *dflt, const char *what,
		   mg_err *e);

/* The provider called `name` ("aws"), or NULL. */
const struct cloud_provider_ops *cloud_provider_by_name(const char *name);
/* "aws, gcp, oci": the providers this build has, for messages and --help. */
const char *cloud_provider_names(void);

#endif
