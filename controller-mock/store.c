/* SPDX-License-Identifier: MIT */
/* The model (networks, connectors, remote users, the address high-water mark) and its JSON
 * form (one document, the former store.json; one entry per record in store.db: see
 * store_db.c). A persisted field is added in conn_to_store_json and conn_from_store_json
 * (keys list included), nowhere else. */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "fsutil.h"
#include "identity.h"
#include "jsonu.h"
#include "log.h"

#define STORE_FORMAT 1

int64_t now_unix(void)
{
	return (int64_t)time(NULL);
}

int64_t now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store_init(struct ctl_store *s, const struct cidr *mesh)
{
	memset(s, 0, sizeof(*s));
	s->mesh = *mesh;
	s->next_addr = 2; /* 0: the network address, 1: the hub */
}

void store_set_mesh6(struct ctl_store *s, const struct cidr *mesh6)
{
	s->has_mesh6 = mesh6 != NULL;
	if (mesh6)
		s->mesh6 = *mesh6;
	else
		memset(&s->mesh6, 0, sizeof(s->mesh6));
}

void conn_free(struct ctl_connector *c)
{
	if (!c)
		return;
	cJSON_Delete(c->status);
	cJSON_free(c->doc0);
	free(c);
}

void store_free(struct ctl_store *s)
{
	store_db_close(s);
	for (size_t i = 0; i < s->n_nets; i++)
		net_free(s->nets[i]);
	for (size_t i = 0; i < s->n_conns; i++)
		conn_free(s->conns[i]);
	for (size_t i = 0; i < s->n_users; i++)
		free(s->users[i]);
	free(s->nets);
	free(s->conns);
	free(s->users);
	s->nets = NULL;
	s->conns = NULL;
	s->users = NULL;
	s->n_nets = s->n_conns = s->n_users = 0;
}

enum ctl_conn_state conn_state(const struct ctl_connector *c)
{
	if (c->revoked)
		return CONN_REVOKED;
	if (c->disabled)
		return CONN_DISABLED;
	return c->enrolled ? CONN_ENROLLED : CONN_PENDING;
}

const char *conn_state_name(enum ctl_conn_state st)
{
	static const char *const names[] = {"pending", "enrolled", "disabled", "revoked"};
	return names[st];
}

struct ctl_network *store_find_net(const struct ctl_store *s, const char *id)
{
	for (size_t i = 0; i < s->n_nets; i++)
		if (!strcmp(s->nets[i]->id, id))
			return s->nets[i];
	return NULL;
}

struct ctl_connector *store_find_conn(const struct ctl_store *s, const char *id)
{
	for (size_t i = 0; i < s->n_conns; i++)
		if (!strcmp(s->conns[i]->id, id))
			return s->conns[i];
	return NULL;
}

int store_add_net(struct ctl_store *s, struct ctl_network *n, mg_err *e)
{
	struct ctl_network **v;

	if (s->n_nets >= CTL_MAX_NETWORKS)
		return mg_err_set(e, "too many networks (the mock keeps at most %d)",
				  CTL_MAX_NETWORKS);
	v = realloc(s->nets, (s->n_nets + 1) * sizeof(*v));
	if (!v)
		return mg_err_set(e, "out of memory");
	s->nets = v;
	s->nets[s->n_nets++] = n;
	return 0;
}

int store_add_conn(struct ctl_store *s, struct ctl_connector *c, mg_err *e)
{
	struct ctl_connector **v;

	if (s->n_conns >= CTL_MAX_CONNECTORS)
		return mg_err_set(e, "too many connectors (the mock keeps at most %d)",
				  CTL_MAX_CONNECTORS);
	v = realloc(s->conns, (s->n_conns + 1) * sizeof(*v));
	if (!v)
		return mg_err_set(e, "out of memory");
	s->conns = v;
	s->conns[s->n_conns++] = c;
	return 0;
}

struct ctl_user *store_find_user(const struct ctl_store *s, const char *id)
{
	for (size_t i = 0; i < s->n_users; i++)
		if (!strcmp(s->users[i]->id, id))
			return s->users[i];
	return NULL;
}

int store_add_user(struct ctl_store *s, struct ctl_user *u, mg_err *e)
{
	struct ctl_user **v;

	if (s->n_users >= CTL_MAX_USERS)
		return mg_err_set(e, "too many users (the mock keeps at most %d)", CTL_MAX_USERS);
	v = realloc(s->users, (s->n_users + 1) * sizeof(*v));
	if (!v)
		return mg_err_set(e, "out of memory");
	s->users = v;
	s->users[s->n_users++] = u;
	return 0;
}

const char *store_key_owner(const struct ctl_store *s, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i]->enrolled && !s->conns[i]->revoked &&
		    !memcmp(s->conns[i]->public_key, key, WG_KEY_LEN))
			return s->conns[i]->id;
	for (size_t i = 0; i < s->n_users; i++)
		if (!s->users[i]->revoked && !memcmp(s->users[i]->public_key, key, WG_KEY_LEN))
			return s->users[i]->id;
	return NULL;
}

/* Number of indexes usable for hosts: the whole range minus the v4 broadcast. */
static uint64_t addr_limit(const struct cidr *mesh)
{
	int hb = cidr_max_len(mesh) - mesh->len;
	if (hb >= 63)
		return UINT64_MAX;
	return mesh->family == AF_INET ? ((uint64_t)1 << hb) - 1 : (uint64_t)1 << hb;
}

int store_alloc_addr(struct ctl_store *s, uint64_t *index, mg_err *e)
{
	char b[CIDR_STRLEN];
	if (s->next_addr >= addr_limit(&s->mesh))
		return mg_err_set(e, "mesh range %s has no address left", cidr_format(&s->mesh, b));
	/* the same index holds the IPv6 address: both ranges must have it */
	if (s->has_mesh6 && s->next_addr >= addr_limit(&s->mesh6))
		return mg_err_set(e, "IPv6 mesh range %s has no address left",
				  cidr_format(&s->mesh6, b));
	*index = s->next_addr++;
	return 0;
}

void store_addr(const struct ctl_store *s, uint64_t index, struct cidr *out)
{
	store_nth_addr(&s->mesh, index, out);
}

bool store_addr6(const struct ctl_store *s, uint64_t index, struct cidr *out)
{
	if (!s->has_mesh6)
		return false;
	store_nth_addr(&s->mesh6, index, out);
	return true;
}

void store_nth_addr(const struct cidr *range, uint64_t index, struct cidr *out)
{
	int i = cidr_addr_len(range) - 1;
	unsigned carry = 0;

	*out = *range;
	out->len = (uint8_t)cidr_max_len(out);
	for (; i >= 0 && (index || carry); i--) {
		unsigned v = out->addr[i] + (unsigned)(index & 0xff) + carry;
		out->addr[i] = (uint8_t)v;
		carry = v >> 8;
		index >>= 8;
	}
}

int store_new_id(const struct ctl_store *s, char prefix, char out[CTL_ID_LEN + 1], mg_err *e)
{
	uint8_t r[4];
	char hex[9];

	for (int tries = 0; tries < 100; tries++) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return mg_err_set(e, "no random bytes from OpenSSL");
		hex_encode(r, sizeof(r), hex);
		snprintf(out, CTL_ID_LEN + 1, "%c-%s", prefix, hex);
		if (!store_find_net(s, out) && !store_find_conn(s, out) && !store_find_user(s, out))
			return 0;
	}
	return mg_err_set(e, "could not find a free id");
}

/* --- serialisation ------------------------------------------------------------- */

static bool add_hex(cJSON *o, const char *key, const uint8_t *v, size_t n)
{
	char hex[2 * 64 + 1];
	hex_encode(v, n, hex);
	return cJSON_AddStringToObject(o, key, hex) != NULL;
}

cJSON *conn_to_store_json(const struct ctl_connector *c)
{
	cJSON *o = cJSON_CreateObject();
	char key[WG_KEY_B64_LEN];

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "id", c->id) ||
	    !cJSON_AddStringToObject(o, "name", c->name) ||
	    !cJSON_AddStringToObject(o, "network_id", c->network_id) ||
	    !cJSON_AddNumberToObject(o, "created_at", (double)c->created_at) ||
	    !add_hex(o, "token_sha256", c->token_hash, 32) ||
	    !cJSON_AddNumberToObject(o, "token_expires_at", (double)c->token_expires_at) ||
	    !cJSON_AddBoolToObject(o, "token_used", c->token_used) ||
	    !cJSON_AddBoolToObject(o, "disabled", c->disabled) ||
	    !cJSON_AddBoolToObject(o, "revoked", c->revoked) ||
	    !cJSON_AddBoolToObject(o, "enrolled", c->enrolled))
		goto fail;
	if (c->enrolled) {
		wgkey_to_base64(c->public_key, key);
		if (!add_hex(o, "secret_sha256", c->secret_hash, 32) ||
		    !cJSON_AddStringToObject(o, "public_key", key) ||
		    !cJSON_AddNumberToObject(o, "address_index", (double)c->addr_index) ||
		    !cJSON_AddStringToObject(o, "hostname", c->hostname) ||
		    !cJSON_AddStringToObject(o, "agent_version", c->agent_version) ||
		    !cJSON_AddNumberToObject(o, "enrolled_at", (double)c->enrolled_at) ||
		    !cJSON_AddNumberToObject(o, "last_seen", (double)c->last_seen) ||
		    !cJSON_AddNumberToObject(o, "version", (double)c->version) ||
		    !add_hex(o, "config_sha256", c->config_hash, 32) || !ident_to_store_json(o, c))
			goto fail;
		if (c->status) {
			cJSON *st = cJSON_Duplicate(c->status, true);
			if (!st || !cJSON_AddItemToObject(o, "status", st)) {
				cJSON_Delete(st);
				goto fail;
			}
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

cJSON *user_to_store_json(const struct ctl_user *u)
{
	cJSON *o = cJSON_CreateObject();
	char key[WG_KEY_B64_LEN];

	if (!o)
		return NULL;
	wgkey_to_base64(u->public_key, key);
	if (!cJSON_AddStringToObject(o, "id", u->id) ||
	    !cJSON_AddStringToObject(o, "name", u->name) ||
	    !cJSON_AddNumberToObject(o, "created_at", (double)u->created_at) ||
	    !cJSON_AddStringToObject(o, "public_key", key) ||
	    !cJSON_AddNumberToObject(o, "address_index", (double)u->addr_index) ||
	    !cJSON_AddBoolToObject(o, "revoked", u->revoked) ||
	    !cJSON_AddBoolToObject(o, "disabled", u->disabled) ||
	    !cJSON_AddBoolToObject(o, "full_tunnel", u->full_tunnel)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

char *store_to_json(const struct ctl_store *s, mg_err *e)
{
	cJSON *root = cJSON_CreateObject(), *nets, *conns, *users;
	char b[CIDR_STRLEN], b6[CIDR_STRLEN], *out = NULL;

	if (!root)
		goto oom;
	if (!cJSON_AddNumberToObject(root, "format", STORE_FORMAT) ||
	    !cJSON_AddStringToObject(root, "mesh_range", cidr_format(&s->mesh, b)) ||
	    !cJSON_AddStringToObject(root, "mesh_range6",
				     s->has_mesh6 ? cidr_format(&s->mesh6, b6) : "none") ||
	    !cJSON_AddNumberToObject(root, "next_address_index", (double)s->next_addr))
		goto oom;
	nets = cJSON_AddArrayToObject(root, "networks");
	conns = cJSON_AddArrayToObject(root, "connectors");
	users = cJSON_AddArrayToObject(root, "users");
	if (!nets || !conns || !users)
		goto oom;
	for (size_t i = 0; i < s->n_nets; i++) {
		cJSON *n = net_to_json(s->nets[i]);
		if (!n || !cJSON_AddItemToArray(nets, n)) {
			cJSON_Delete(n);
			goto oom;
		}
	}
	for (size_t i = 0; i < s->n_conns; i++) {
		cJSON *c = conn_to_store_json(s->conns[i]);
		if (!c || !cJSON_AddItemToArray(conns, c)) {
			cJSON_Delete(c);
			goto oom;
		}
	}
	for (size_t i = 0; i < s->n_users; i++) {
		cJSON *u = user_to_store_json(s->users[i]);
		if (!u || !cJSON_AddItemToArray(users, u)) {
			cJSON_Delete(u);
			goto oom;
		}
	}
	out = cJSON_Print(root);
	if (!out)
		goto oom;
	cJSON_Delete(root);
	return out;
oom:
	cJSON_Delete(root);
	mg_err_set(e, "out of memory serialising the store");
	return NULL;
}

static int get_hex(const cJSON *o, const char *key, uint8_t *out, size_t n, mg_err *e)
{
	const char *s = NULL;
	if (jsonu_get_str(o, key, true, 2 * n, &s, e) < 0)
		return -1;
	if (strlen(s) != 2 * n || hex_decode(s, out, n) < 0)
		return mg_err_set(e, "\"%s\" must be %zu hex digits", key, 2 * n);
	return 0;
}

/* A loaded address index must be below the high-water mark and held by nobody yet. */
static int check_addr_index(const struct ctl_store *s, uint64_t idx, mg_err *e)
{
	if (idx >= s->next_addr)
		return mg_err_set(e, "address index %llu is above the high-water mark %llu",
				  (unsigned long long)idx, (unsigned long long)s->next_addr);
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i]->enrolled && s->conns[i]->addr_index == idx)
			return mg_err_set(e, "address index %llu is held by %s too",
					  (unsigned long long)idx, s->conns[i]->id);
	for (size_t i = 0; i < s->n_users; i++)
		if (s->users[i]->addr_index == idx)
			return mg_err_set(e, "address index %llu is held by %s too",
					  (unsigned long long)idx, s->users[i]->id);
	return 0;
}

static int conn_from_store_json(struct ctl_store *s, const cJSON *o, mg_err *e)
{
	static const char *const keys[] = {"id",
					   "name",
					   "network_id",
					   "created_at",
					   "token_sha256",
					   "token_expires_at",
					   "token_used",
					   "disabled",
					   "revoked",
					   "enrolled",
					   "secret_sha256",
					   "public_key",
					   "address_index",
					   "hostname",
					   "agent_version",
					   "enrolled_at",
					   "last_seen",
					   "version",
					   "config_sha256",
					   "status",
					   "host_id",
					   "host_name",
					   NULL};
	struct ctl_connector *c = calloc(1, sizeof(*c));
	const cJSON *st = NULL;
	const char *key = NULL;
	int64_t idx = 0;

	if (!c)
		return mg_err_set(e, "out of memory");
	if (!cJSON_IsObject(o)) {
		mg_err_set(e, "connector entries must be objects");
		goto fail;
	}
	if (jsonu_only_keys(o, keys, "connector", e) < 0 ||
	    jsonu_copy_str(o, "id", true, c->id, sizeof(c->id), e) < 0 ||
	    jsonu_copy_str(o, "name", true, c->name, sizeof(c->name), e) < 0 ||
	    jsonu_copy_str(o, "network_id", true, c->network_id, sizeof(c->network_id), e) < 0 ||
	    jsonu_get_int(o, "created_at", true, 0, INT64_MAX / 2, &c->created_at, e) < 0 ||
	    get_hex(o, "token_sha256", c->token_hash, 32, e) < 0 ||
	    jsonu_get_int(o, "token_expires_at", true, 0, INT64_MAX / 2, &c->token_expires_at, e) <
		0 ||
	    jsonu_get_bool(o, "token_used", true, &c->token_used, e) < 0 ||
	    jsonu_get_bool(o, "disabled", true, &c->disabled, e) < 0 ||
	    jsonu_get_bool(o, "revoked", true, &c->revoked, e) < 0 ||
	    jsonu_get_bool(o, "enrolled", true, &c->enrolled, e) < 0)
		goto fail;
	if (strlen(c->id) != CTL_ID_LEN || strncmp(c->id, "c-", 2)) {
		mg_err_set(e, "connector id \"%s\" is malformed", c->id);
		goto fail;
	}
	if (!store_find_net(s, c->network_id)) {
		mg_err_set(e, "connector %s belongs to unknown network %s", c->id, c->network_id);
		goto fail;
	}
	if (store_find_conn(s, c->id)) {
		mg_err_set(e, "connector id %s appears twice", c->id);
		goto fail;
	}
	if (c->enrolled) {
		if (!c->token_used) {
			mg_err_set(e, "connector %s is enrolled but its token is unused", c->id);
			goto fail;
		}
		if (get_hex(o, "secret_sha256", c->secret_hash, 32, e) < 0 ||
		    jsonu_get_str(o, "public_key", true, 64, &key, e) < 0 ||
		    jsonu_get_int(o, "address_index", true, 2, INT64_MAX / 2, &idx, e) < 0 ||
		    jsonu_copy_str(o, "hostname", true, c->hostname, sizeof(c->hostname), e) < 0 ||
		    jsonu_copy_str(o, "agent_version", true, c->agent_version,
				   sizeof(c->agent_version), e) < 0 ||
		    jsonu_get_int(o, "enrolled_at", true, 0, INT64_MAX / 2, &c->enrolled_at, e) <
			0 ||
		    jsonu_get_int(o, "last_seen", true, 0, INT64_MAX / 2, &c->last_seen, e) < 0 ||
		    jsonu_get_int(o, "version", true, 1, INT64_MAX / 2, &c->version, e) < 0 ||
		    get_hex(o, "config_sha256", c->config_hash, 32, e) < 0 ||
		    jsonu_get_object(o, "status", false, &st, e) < 0 ||
		    ident_from_store_json(o, c, e) < 0)
			goto fail;
		if (wgkey_from_base64(key, c->public_key) < 0) {
			mg_err_set(e, "\"public_key\" is not a WireGuard key");
			goto fail;
		}
		c->addr_index = (uint64_t)idx;
		if (check_addr_index(s, c->addr_index, e) < 0)
			goto fail;
		if (st && !(c->status = cJSON_Duplicate(st, true))) {
			mg_err_set(e, "out of memory");
			goto fail;
		}
	}
	if (store_add_conn(s, c, e) < 0)
		goto fail;
	return 0;
fail:
	if (c->id[0])
		mg_err_prefix(e, "connector %s", c->id);
	conn_free(c);
	return -1;
}

static int user_from_store_json(struct ctl_store *s, const cJSON *o, mg_err *e)
{
	static const char *const keys[] = {"id",         "name",          "created_at",
					   "public_key", "address_index", "revoked",
					   "disabled",   "full_tunnel",   NULL};
	struct ctl_user *u = calloc(1, sizeof(*u));
	const char *key = NULL, *owner;
	int64_t idx = 0;

	if (!u)
		return mg_err_set(e, "out of memory");
	if (!cJSON_IsObject(o)) {
		mg_err_set(e, "user entries must be objects");
		goto fail;
	}
	if (jsonu_only_keys(o, keys, "user", e) < 0 ||
	    jsonu_copy_str(o, "id", true, u->id, sizeof(u->id), e) < 0 ||
	    jsonu_copy_str(o, "name", true, u->name, sizeof(u->name), e) < 0 ||
	    ctl_check_name(u->name, e) < 0 ||
	    jsonu_get_int(o, "created_at", true, 0, INT64_MAX / 2, &u->created_at, e) < 0 ||
	    jsonu_get_str(o, "public_key", true, 64, &key, e) < 0 ||
	    jsonu_get_int(o, "address_index", true, 2, INT64_MAX / 2, &idx, e) < 0 ||
	    jsonu_get_bool(o, "revoked", true, &u->revoked, e) < 0 ||
	    /* "disabled" and "full_tunnel" are absent in older stores */
	    jsonu_get_bool(o, "disabled", false, &u->disabled, e) < 0 ||
	    jsonu_get_bool(o, "full_tunnel", false, &u->full_tunnel, e) < 0)
		goto fail;
	if (strlen(u->id) != CTL_ID_LEN || strncmp(u->id, "u-", 2)) {
		mg_err_set(e, "user id \"%s\" is malformed", u->id);
		goto fail;
	}
	if (store_find_user(s, u->id)) {
		mg_err_set(e, "user id %s appears twice", u->id);
		goto fail;
	}
	if (wgkey_from_base64(key, u->public_key) < 0) {
		mg_err_set(e, "\"public_key\" is not a WireGuard key");
		goto fail;
	}
	if (!u->revoked && (owner = store_key_owner(s, u->public_key))) {
		mg_err_set(e, "its public key is held by %s too", owner);
		goto fail;
	}
	u->addr_index = (uint64_t)idx;
	if (check_addr_index(s, u->addr_index, e) < 0 || store_add_user(s, u, e) < 0)
		goto fail;
	return 0;
fail:
	if (u->id[0])
		mg_err_prefix(e, "user %s", u->id);
	free(u);
	return -1;
}

/*
 * The store's IPv6 mesh range against this run's (s->mesh6, s->next_addr loaded):
 * - the same, or the store has none ("none" or absent: written before dual stack, or
 *   with it off): every address index gets (or keeps) its address in this run's range,
 *   which must hold them all (the migration);
 * - the store has one and this run none: turned off (the v6 addresses go; turning it
 *   back on with the same range gives them back, since they follow the v4 index);
 * - another one: refused, as every peer's IPv6 address would change under it.
 */
static int load_mesh6(struct ctl_store *s, const char *mesh6, mg_err *e)
{
	char a[CIDR_STRLEN], b[CIDR_STRLEN];
	struct cidr m;
	bool had = mesh6 && strcmp(mesh6, "none") != 0;

	if (had && cidr_parse(mesh6, &m, 0, e) < 0)
		return mg_err_prefix(e, "mesh_range6");
	if (had && m.family != AF_INET6)
		return mg_err_set(e, "mesh_range6 %s is not an IPv6 range", mesh6);
	if (had && !s->has_mesh6) {
		log_warn("the store was made with IPv6 mesh range %s; this run has none: "
			 "connectors and users lose their IPv6 mesh addresses",
			 cidr_format(&m, a));
		return 0;
	}
	if (!s->has_mesh6)
		return 0;
	if (had && !cidr_equal(&m, &s->mesh6))
		return mg_err_set(e,
				  "the store was made with IPv6 mesh range %s but this run uses "
				  "%s; start with --mesh-range6 %s (or none) or move the state "
				  "directory away",
				  cidr_format(&m, a), cidr_format(&s->mesh6, b),
				  cidr_format(&m, a));
	if (s->next_addr > addr_limit(&s->mesh6))
		return mg_err_set(e,
				  "IPv6 mesh range %s is too small for the %llu addresses the "
				  "store has handed out",
				  cidr_format(&s->mesh6, b), (unsigned long long)s->next_addr - 2);
	if (!had)
		log_info("IPv6 mesh range %s added to the store: every connector and user gets "
			 "its IPv6 address there (users need their config again)",
			 cidr_format(&s->mesh6, b));
	return 0;
}

int store_load_json(struct ctl_store *s, const char *buf, size_t len, mg_err *e)
{
	cJSON *j = jsonu_parse(buf, len, CTL_STORE_MAX, e);

	return j ? store_load_tree(s, j, e) : -1;
}

int store_load_tree(struct ctl_store *s, cJSON *j, mg_err *e)
{
	static const char *const keys[] = {
	    "format",   "mesh_range", "mesh_range6", "next_address_index",
	    "networks", "connectors", "users",       NULL};
	const cJSON *nets = NULL, *conns = NULL, *users = NULL, *it;
	const char *mesh = NULL, *mesh6 = NULL, *code;
	struct cidr m;
	int64_t fmt = 0, next = 0;
	char a[CIDR_STRLEN], b[CIDR_STRLEN];

	if (jsonu_only_keys(j, keys, "store", e) < 0 ||
	    jsonu_get_int(j, "format", true, STORE_FORMAT, STORE_FORMAT, &fmt, e) < 0 ||
	    jsonu_get_str(j, "mesh_range", true, CIDR_STRLEN, &mesh, e) < 0 ||
	    /* absent in stores written before the IPv6 mesh range existed */
	    jsonu_get_str(j, "mesh_range6", false, CIDR_STRLEN, &mesh6, e) < 0 ||
	    jsonu_get_int(j, "next_address_index", true, 2, INT64_MAX / 2, &next, e) < 0 ||
	    jsonu_get_array(j, "networks", true, CTL_MAX_NETWORKS, &nets, e) < 0 ||
	    jsonu_get_array(j, "connectors", true, CTL_MAX_CONNECTORS, &conns, e) < 0 ||
	    jsonu_get_array(j, "users", false, CTL_MAX_USERS, &users, e) < 0)
		goto fail;
	if (cidr_parse(mesh, &m, 0, e) < 0) {
		mg_err_prefix(e, "mesh_range");
		goto fail;
	}
	if (!cidr_equal(&m, &s->mesh)) {
		mg_err_set(e,
			   "the store was made with mesh range %s but this run uses %s; start "
			   "with --mesh-range %s or move the state directory away",
			   cidr_format(&m, a), cidr_format(&s->mesh, b), cidr_format(&m, a));
		goto fail;
	}
	s->next_addr = (uint64_t)next;
	if (load_mesh6(s, mesh6, e) < 0)
		goto fail;
	cJSON_ArrayForEach(it, nets)
	{
		struct ctl_network *n = calloc(1, sizeof(*n));
		if (!n) {
			mg_err_set(e, "out of memory");
			goto fail;
		}
		if (!cJSON_IsObject(it) || net_from_json(n, it, NET_STORE, &code, e) < 0 ||
		    (store_find_net(s, n->id) &&
		     mg_err_set(e, "network id %s appears twice", n->id)) ||
		    net_check_conflicts(s, n, e) < 0 || store_add_net(s, n, e) < 0) {
			if (!cJSON_IsObject(it))
				mg_err_set(e, "network entries must be objects");
			net_free(n);
			goto fail;
		}
	}
	cJSON_ArrayForEach(it, conns)
	{
		if (conn_from_store_json(s, it, e) < 0)
			goto fail;
	}
	/* stores written before remote users existed have no "users" member */
	cJSON_ArrayForEach(it, users)
	{
		if (user_from_store_json(s, it, e) < 0)
			goto fail;
	}
	cJSON_Delete(j);
	return 0;
fail:
	cJSON_Delete(j);
	store_free(s);
	return -1;
}

int store_load_file(struct ctl_store *s, const char *path, mg_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (fs_read_bounded(path, CTL_STORE_MAX, &buf, &len, e) < 0) {
		if (errno == ENOENT) {
			mg_err_clear(e);
			return 0;
		}
		return -1;
	}
	rc = store_load_json(s, buf, len, e);
	free(buf);
	if (rc < 0)
		return mg_err_prefix(e,
				     "%s is corrupt or inconsistent (refusing to start; fix or "
				     "move it away)",
				     path);
	return 0;
}
