/* SPDX-License-Identifier: MIT */
/*
 * meshgate-controller-mock: the shared context. One process, one thread: the
 * model (networks, connectors, remote users) lives in memory, is persisted to one JSON file
 * before any mutation is acknowledged, and is served over HTTPS by libmicrohttpd.
 */
#ifndef CTL_H
#define CTL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cidr.h"
#include "config.h"
#include "err.h"
#include "mg_limits.h"
#include "wgkey.h"

/* caps from meshgate's one table of limits (mg_limits.h, docs/LIMITS.md) */
#define CTL_BODY_MAX          MG_LIMIT_BODY_BYTES
#define CTL_NAME_MAX          128
#define CTL_ID_LEN            10 /* "n-" / "c-" / "u-" + 8 hex digits */
#define CTL_SECRET_LEN        43 /* base64url of 32 random bytes */
#define CTL_MAX_SUBNETS       MG_LIMIT_SUBNETS
#define CTL_MAX_EXCLUDE       MG_LIMIT_EXCLUDES
#define CTL_MAX_NETWORKS      MG_LIMIT_NETWORKS
#define CTL_MAX_CONNECTORS    MG_LIMIT_CONNECTORS
#define CTL_MAX_USERS         MG_LIMIT_USERS
#define CTL_WAIT_MAX          60
#define CTL_MTU               1420
#define CTL_KEEPALIVE         25
#define CTL_STORE_FILE        "store.db"
#define CTL_STORE_LEGACY      "store.json" /* read once, then renamed .migrated */
#define CTL_STORE_MAX         (64u << 20)
#define CTL_MAX_CONNS_DEFAULT 16384
#define CTL_ADMIN_RESERVE     64

struct ctl_access {
	struct cidr cidr;
	enum access_mode mode;
	struct port_range *ports;
	size_t n_ports;
};

/* ha.c: a network's active/standby settings, and its role state (persisted with it) */
struct ctl_ha_net {
	bool preempt;                /* the preferred (oldest) live connector takes the role back */
	int64_t lease_ms;            /* a connector silent this long has lost its lease */
	int64_t hold_down_ms;        /* a connector that lapsed is held back this long */
	int64_t epoch;               /* grows with every change of the active connector */
	char active[CTL_ID_LEN + 1]; /* the active connector's id, "" = none yet */
	int64_t active_since;        /* unix time */
};

/* ha.c: a connector's lease (run time only: a restarted controller grants a fresh one) */
struct ctl_ha_conn {
	int64_t lease_until_ms; /* CLOCK_MONOTONIC; 0 = never seen alive */
	int64_t last_contact_ms;
	int64_t hold_until_ms; /* not promoted (unless nobody else can be) before this */
	bool lapsed;           /* lost its lease; held back when it comes back */
	bool dropped;          /* its long-poll connection closed while waiting */
};

struct ctl_network {
	char id[CTL_ID_LEN + 1];
	char name[CTL_NAME_MAX];
	int64_t created_at;
	struct cidr *subnets;
	size_t n_subnets;
	bool nat_enabled;
	struct cidr *nat_exclude;
	size_t n_nat_exclude;
	struct ctl_access *access;
	size_t n_access;
	bool egress;
	bool manage_cloud_routes;
	struct ctl_ha_net ha;
};

struct ctl_waiter;
struct hub;

/* identity.c: a host presenting a connector's identity (docs/API.md, "One identity, one
 * host"). */
#define CTL_HOSTID_LEN   32
#define CTL_HOSTNAME_MAX 64
struct ctl_host {
	char id[CTL_HOSTID_LEN + 1];     /* "" until a host identified itself */
	char name[CTL_HOSTNAME_MAX + 1]; /* what it calls itself (printable ASCII) */
	char addr[64];                   /* remote address of its last request */
	int64_t seen_ms;                 /* CLOCK_MONOTONIC of its last request, 0: never */
};
struct ctl_ident {
	struct ctl_host holder;          /* the admitted host (id and name are persisted) */
	int64_t loaded_ms;               /* when a persisted holder was loaded (its grace period) */
	struct ctl_host rival;           /* the last host refused (not persisted) */
	int64_t rival_first, rival_last; /* unix seconds of the conflict's first/last attempt */
	uint64_t rival_count;
	/* the hub's endpoint for this connector while the holder was seen from the same
	 * address: put back if a refused copy's handshake moved it */
	struct sockaddr_storage hub_ep;
	bool has_hub_ep;
	int64_t hub_ep_checked_ms;
};

struct ctl_connector {
	char id[CTL_ID_LEN + 1];
	char name[CTL_NAME_MAX];
	char network_id[CTL_ID_LEN + 1];
	struct ctl_ha_conn ha;
	int64_t created_at;
	uint8_t token_hash[32];
	int64_t token_expires_at;
	bool token_used;
	bool disabled;
	bool revoked;
	bool enrolled; /* has a secret, a key and an address */
	uint8_t secret_hash[32];
	uint8_t public_key[WG_KEY_LEN];
	uint64_t addr_index; /* offset of the tunnel address in the mesh range */
	char hostname[256];
	char agent_version[64];
	int64_t enrolled_at;
	int64_t last_seen;
	cJSON *status;              /* last reported status object, or NULL */
	int64_t version;            /* config version; 0 until enrolled */
	uint8_t config_hash[32];    /* SHA-256 of the rendered document minus "version" */
	struct ctl_waiter *waiters; /* suspended long-poll requests (not persisted) */
	bool wake;                  /* waiters must be woken after the next commit */
	/* render.c, lazy rendering: a change may have altered the document since `version`
	 * was settled; it is rendered (and the version bumped if it changed) before anything
	 * shows the version (render_settle) */
	bool stale;
	bool wake_all; /* longpoll.c: every waiter is answered, whatever its ETag */
	char *doc0;    /* the document just settled, with version 0, for the answer to come */
	struct ctl_ident ident; /* identity.c: which host holds this identity */
};

/* A remote user (a laptop running wg-quick). Only the public key is ever kept. */
struct ctl_user {
	char id[CTL_ID_LEN + 1];
	char name[CTL_NAME_MAX];
	int64_t created_at;
	uint8_t public_key[WG_KEY_LEN];
	uint64_t addr_index; /* from store_alloc_addr: never reused */
	bool revoked;        /* deleted; kept as a tombstone */
	bool disabled;       /* cut off at the hub until enabled (config unchanged) */
	bool full_tunnel;    /* egress.h: AllowedIPs 0.0.0.0/0, ::/0 (needs an egress network) */
};

enum ctl_conn_state { CONN_PENDING, CONN_ENROLLED, CONN_DISABLED, CONN_REVOKED };

struct store_db;

struct ctl_store {
	struct store_db *db; /* store_db.c: the database, NULL until store_load */
	struct cidr mesh;    /* mesh range; the hub holds index 1 */
	/* the IPv6 mesh range beside an IPv4 one (dual stack), or none (has_mesh6 false).
	 * A connector or user holds the same index in both: its v6 address is the
	 * index-th of mesh6, as its v4 address is the index-th of mesh. */
	struct cidr mesh6;
	bool has_mesh6;
	uint64_t next_addr; /* high-water mark: never handed out twice */
	struct ctl_network **nets;
	size_t n_nets;
	struct ctl_connector **conns;
	size_t n_conns;
	struct ctl_user **users;
	size_t n_users;
};

struct ctl_ctx {
	char state_dir[4096];
	char store_path[4200];
	char public_url[256];
	char hub_endpoint[CONFIG_ENDPOINT_MAX];
	char hub_ifname[16];
	uint16_t hub_port;
	bool no_hub;
	bool hub_down_on_exit;
	struct hub *hub;   /* the running hub (hub.c), NULL with --no-hub */
	struct ctl_ha *ha; /* leases and failover (ha.c) */
	int64_t token_ttl;
	int64_t ident_live_ms; /* identity.c: 0 is IDENT_LIVE_MS */
	uint8_t admin_hash[32];
	uint8_t hub_priv[WG_KEY_LEN];
	uint8_t hub_pub[WG_KEY_LEN];
	char pin[64];
	char *tls_key_pem;
	char *tls_cert_pem;
	struct ctl_store store;
	struct MHD_Daemon *mhd;
	int timer_fd;
	/* A suspended connection was resumed since the last MHD_run: microhttpd (external
	 * loop, no inter-thread channel) notices resumes only inside MHD_run, so the loop
	 * must run it again without waiting for network activity. */
	bool resumed;
	bool quit;
	bool failed; /* stopped because the store could not be written */
	/* connections (http.c): agents are served up to max_connections; CTL_ADMIN_RESERVE
	 * more are kept for the admin API */
	unsigned max_connections;
	unsigned agent_connections;
	int64_t lp_next_ms;  /* earliest long-poll deadline (longpoll.c), or INT64_MAX */
	int64_t lp_armed_ms; /* what the timerfd is set to */
	/* --eager-render (bench_fleet's comparison): a change re-renders every document it
	 * may affect in its own turn, as before lazy rendering */
	bool eager_render;
};

/* --- store.c: model, persistence, allocation ------------------------------------ */
void store_init(struct ctl_store *s, const struct cidr *mesh);
/* The IPv6 mesh range (NULL: none); call after store_init, before store_load. A store
 * written without one adopts it (every address index gets its v6 address); a store
 * written with another one is refused. */
void store_set_mesh6(struct ctl_store *s, const struct cidr *mesh6);
void store_free(struct ctl_store *s);
/* Open (or make) the database `path` and load it; a new database takes the content of a
 * store.json beside it (migration). Refuses anything inconsistent. */
int store_load(struct ctl_store *s, const char *path, mg_err *e);
/* The JSON form: one document (the former store.json). */
int store_load_file(struct ctl_store *s, const char *path, mg_err *e);
int store_load_json(struct ctl_store *s, const char *buf, size_t len, mg_err *e);
int store_load_tree(struct ctl_store *s, cJSON *j, mg_err *e); /* takes `j` */
char *store_to_json(const struct ctl_store *s, mg_err *e);
cJSON *conn_to_store_json(const struct ctl_connector *c);
cJSON *user_to_store_json(const struct ctl_user *u);
/*
 * Persist the changes (`path` is unused: the database store_load opened). It writes the
 * connectors declared with store_touch_conn() since the last save, or, when none was
 * declared, every record. A request that changes only some connectors declares each one
 * it changes (a hook changing another record touches it too); anything else declares
 * nothing. Durable when it returns, except in group mode (store_group), where the loop's
 * store_flush() commits before any answer is sent.
 */
int store_save(struct ctl_store *s, const char *path, mg_err *e);
void store_touch_conn(struct ctl_store *s, struct ctl_connector *c);
/* This request changed more than connectors it declared: save and render everything. */
void store_touch_all(struct ctl_store *s);
/* This request changed network records (and only the connectors it declared): the save
 * writes the networks and those connectors, and every document may have changed. */
void store_touch_nets(struct ctl_store *s);
/* Whether anything was declared (touch_conn, touch_nets) since the last save. */
bool store_declared(const struct ctl_store *s);
/* The connectors declared since the last save. */
size_t store_touched(const struct ctl_store *s, struct ctl_connector *const **out);
void store_group(struct ctl_store *s, bool on);
bool store_pending(const struct ctl_store *s);
int store_flush(struct ctl_store *s, mg_err *e);
void store_db_close(struct ctl_store *s);
/* The enrolled connector whose device secret has SHA-256 `h`, or NULL; O(1) once seen. */
struct ctl_connector *store_find_by_secret(const struct ctl_store *s, const uint8_t h[32]);
/* The connector whose enrolment token has SHA-256 `h`, or NULL; O(1) once seen. */
struct ctl_connector *store_find_by_token(const struct ctl_store *s, const uint8_t h[32]);
/* Print the database `path` as one JSON document (the former store.json) on stdout. */
int store_dump(const char *path, mg_err *e);
struct ctl_network *store_find_net(const struct ctl_store *s, const char *id);
struct ctl_connector *store_find_conn(const struct ctl_store *s, const char *id);
int store_add_net(struct ctl_store *s, struct ctl_network *n, mg_err *e);
int store_add_conn(struct ctl_store *s, struct ctl_connector *c, mg_err *e);
struct ctl_user *store_find_user(const struct ctl_store *s, const char *id);
int store_add_user(struct ctl_store *s, struct ctl_user *u, mg_err *e);
/* The id of the live (enrolled and not revoked) connector or live user holding `key`,
 * or NULL. */
const char *store_key_owner(const struct ctl_store *s, const uint8_t key[WG_KEY_LEN]);
/* Hand out the next tunnel address index (never reused). */
int store_alloc_addr(struct ctl_store *s, uint64_t *index, mg_err *e);
/* The address at `index` of the mesh range, as a host prefix. */
void store_addr(const struct ctl_store *s, uint64_t index, struct cidr *out);
/* The address at `index` of the IPv6 mesh range, as a host prefix (/128); false (and
 * nothing written) when there is no IPv6 mesh range. */
bool store_addr6(const struct ctl_store *s, uint64_t index, struct cidr *out);
/* The address at `index` of `range`, as a host prefix. */
void store_nth_addr(const struct cidr *range, uint64_t index, struct cidr *out);
/* A fresh "n-xxxxxxxx" / "c-xxxxxxxx" / "u-xxxxxxxx" not yet in use by anything. */
int store_new_id(const struct ctl_store *s, char prefix, char out[CTL_ID_LEN + 1], mg_err *e);
enum ctl_conn_state conn_state(const struct ctl_connector *c);
const char *conn_state_name(enum ctl_conn_state st);
void conn_free(struct ctl_connector *c);

/* --- network.c: network objects from and to JSON -------------------------------- */
enum net_parse_mode { NET_CREATE, NET_PATCH, NET_STORE };
/* Apply the JSON fields onto `n` (validated; on error `n` is unchanged). `code` gets the
 * API error code ("invalid_request" / "invalid_cidr"). */
int net_from_json(struct ctl_network *n, const cJSON *j, enum net_parse_mode mode,
		  const char **code, mg_err *e);
cJSON *net_to_json(const struct ctl_network *n);
void net_free(struct ctl_network *n);
/* Subnets of `n` against the mesh range and every other network: 0 or -1 (conflict). */
int net_check_conflicts(const struct ctl_store *s, const struct ctl_network *n, mg_err *e);
/* Subnets of all networks together (with `n` in place of its stored version) within
 * MG_LIMIT_SUBNETS: 0 or -1 (the API answers 409 limit_reached). */
int net_check_limits(const struct ctl_store *s, const struct ctl_network *n, mg_err *e);
/* A display name: non-empty, no control characters. */
int ctl_check_name(const char *s, mg_err *e);
cJSON *cidr_list_json(const struct cidr *v, size_t n);

/* --- render.c: the config document of one connector ----------------------------- */
cJSON *render_config(const struct ctl_ctx *ctx, const struct ctl_connector *c, mg_err *e);
/* Re-render every enrolled connector; a changed document bumps its version and marks
 * the connector `wake`. Returns the number of connectors bumped, or -1. */
int render_refresh(struct ctl_ctx *ctx, mg_err *e);
/* The rendered document (with "version") as text; caller frees with cJSON_free. */
char *render_text(const struct ctl_ctx *ctx, const struct ctl_connector *c, mg_err *e);
/* Lazy rendering: the connectors a change may affect are marked stale (render_mark, which
 * also queues their waiters) instead of being rendered in the change's turn. A stale
 * connector is settled before its version is shown: rendered, its version bumped if the
 * document changed (then declared with store_touch_conn: the caller saves before any
 * answer shows it). `keep` keeps the text in c->doc0 for the answer about to be sent.
 * Returns 1 (bumped), 0 (unchanged or not stale) or -1. A connector without a version yet
 * (enrolled in this request) is settled by render_mark at once. */
int render_mark(struct ctl_ctx *ctx, struct ctl_connector *c, mg_err *e);
int render_settle(struct ctl_ctx *ctx, struct ctl_connector *c, bool keep, mg_err *e);
/* The document of `c` (settled) as text, from c->doc0 when it holds it (then freed). */
char *render_answer(struct ctl_ctx *ctx, struct ctl_connector *c, mg_err *e);

/* --- user.c: remote users' WireGuard client configs ------------------------------- */
/* The wg-quick config of user `u`. `priv_b64` is the private key to write, or NULL for
 * the placeholder "<your private key>". Caller wipes (it may hold the key) and frees. */
char *user_config_text(const struct ctl_ctx *ctx, const struct ctl_user *u, const char *priv_b64,
		       mg_err *e);
#define USER_KEY_PLACEHOLDER "<your private key>"

/* --- tls.c ------------------------------------------------------------------------ */
/* Load or make key.pem/cert.pem (SAN = `host`), compute the pin. */
int tls_setup(struct ctl_ctx *ctx, const char *host, mg_err *e);
/* Load or make admin.token and hub.key. */
int secrets_setup(struct ctl_ctx *ctx, mg_err *e);
/* Random base64url secret of 32 bytes. */
int secret_new(char out[CTL_SECRET_LEN + 1], mg_err *e);
void sha256_str(const char *s, size_t len, uint8_t out[32]);
/* Constant-time comparison of the SHA-256 of `secret` with `hash`. */
bool secret_matches(const char *secret, size_t len, const uint8_t hash[32]);
void hex_encode(const uint8_t *in, size_t n, char *out);
int hex_decode(const char *in, uint8_t *out, size_t n);

/* --- http.c ----------------------------------------------------------------------- */
int http_start(struct ctl_ctx *ctx, const char *listen, mg_err *e);
/* Run until SIGINT/SIGTERM. */
int http_serve(struct ctl_ctx *ctx, mg_err *e);
void http_stop(struct ctl_ctx *ctx);

/* --- time ------------------------------------------------------------------------- */
int64_t now_unix(void);
int64_t now_mono_ms(void);

#endif
