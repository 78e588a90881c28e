/* SPDX-License-Identifier: MIT */
/*
 * The store on disk: one SQLite database (store.db), one row per record. A row holds the
 * record's JSON document, exactly the entry the former store.json had for it
 * (conn_to_store_json, net_to_json, user_to_store_json), so that loading goes through
 * the same validation (store_load_tree) and a new persisted field is added in one place:
 * the record's to/from JSON functions in store.c.
 *
 * A save writes only what changed: the connectors declared with store_touch_conn() since
 * the last save (and the networks, after store_touch_nets()), or every record when
 * nothing was declared (the safe default for a change nobody described). WAL journal,
 * synchronous=FULL: a committed transaction is on disk before COMMIT returns. While the controller
 * serves (store_group), a save only adds its rows to an open transaction, and the loop commits once
 * per turn (store_flush) before any answer of that turn is sent: the API calls of one turn share
 * one fsync, none is acknowledged before it is durable.
 *
 * A state directory that has a store.json and no store.db is migrated once: the JSON
 * file is read, written into the database, and renamed to store.json.migrated.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "jsonu.h"
#include "log.h"

struct hidx {
	struct ctl_connector **v;
	size_t cap, n;
	bool token; /* keyed by token_hash, else by secret_hash (enrolled only) */
};

struct store_db {
	sqlite3 *db;
	sqlite3_stmt *put[3]; /* networks, connectors, users */
	sqlite3_stmt *put_meta;
	bool in_txn;
	bool group;
	bool all;  /* store_touch_all: the next save writes everything */
	bool nets; /* store_touch_nets: the next save writes the networks too */
	struct ctl_connector **touched;
	size_t n_touched, cap_touched;
	/* SHA-256 of the device secret / enrolment token -> connector (open addressing);
	 * filled as rows are written and as lookups find them */
	struct hidx secrets, tokens;
};

enum { T_NET, T_CONN, T_USER };
static const char *const tables[] = {"networks", "connectors", "users"};

static int db_err(struct store_db *d, mg_err *e, const char *what)
{
	return mg_err_set(e, "store database: %s: %s", what, sqlite3_errmsg(d->db));
}

static int exec(struct store_db *d, const char *sql, mg_err *e)
{
	char *msg = NULL;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		mg_err_set(e, "store database: %s: %s", sql, msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static void db_close(struct store_db *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < MG_ARRAY_SIZE(d->put); i++)
		sqlite3_finalize(d->put[i]);
	sqlite3_finalize(d->put_meta);
	if (d->in_txn)
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(d->db);
	free(d->touched);
	free(d->secrets.v);
	free(d->tokens.v);
	free(d);
}

void store_db_close(struct ctl_store *s)
{
	db_close(s->db);
	s->db = NULL;
}

static int db_open(const char *path, struct store_db **out, mg_err *e)
{
	static const char *const schema =
	    "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;"
	    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS networks(id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS connectors(id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS users(id TEXT PRIMARY KEY, doc TEXT NOT NULL);";
	struct store_db *d = calloc(1, sizeof(*d));
	char sql[128];

	if (!d)
		return mg_err_set(e, "out of memory");
	d->tokens.token = true;
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		mg_err_set(e, "cannot open %s: %s", path,
			   d->db ? sqlite3_errmsg(d->db) : "out of memory");
		db_close(d);
		return -1;
	}
	sqlite3_busy_timeout(d->db, 5000);
	if (exec(d, schema, e) < 0)
		goto fail;
	for (size_t i = 0; i < MG_ARRAY_SIZE(tables); i++) {
		/* rowid keeps the order records were made in: loading keeps it too */
		snprintf(sql, sizeof(sql),
			 "INSERT INTO %s(id, doc) VALUES(?1, ?2) ON CONFLICT(id) DO UPDATE SET "
			 "doc=excluded.doc",
			 tables[i]);
		if (sqlite3_prepare_v2(d->db, sql, -1, &d->put[i], NULL) != SQLITE_OK) {
			db_err(d, e, "prepare");
			goto fail;
		}
	}
	if (sqlite3_prepare_v2(d->db, "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)", -1,
			       &d->put_meta, NULL) != SQLITE_OK) {
		db_err(d, e, "prepare");
		goto fail;
	}
	*out = d;
	return 0;
fail:
	mg_err_prefix(e, "%s", path);
	db_close(d);
	return -1;
}

static int put(struct store_db *d, sqlite3_stmt *st, const char *k, const char *v, mg_err *e)
{
	int rc;

	sqlite3_reset(st);
	if (sqlite3_bind_text(st, 1, k, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, v, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return db_err(d, e, "bind");
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_err(d, e, "write");
	return 0;
}

static int put_json(struct store_db *d, int t, const char *id, cJSON *doc, mg_err *e)
{
	char *txt = doc ? cJSON_PrintUnformatted(doc) : NULL;
	int rc;

	cJSON_Delete(doc);
	if (!txt)
		return mg_err_set(e, "out of memory serialising %s", id);
	rc = put(d, d->put[t], id, txt, e);
	cJSON_free(txt);
	return rc;
}

static int put_meta(struct store_db *d, const struct ctl_store *s, mg_err *e)
{
	char b[CIDR_STRLEN], b6[CIDR_STRLEN], num[32];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)s->next_addr);
	if (put(d, d->put_meta, "format", "1", e) < 0 ||
	    put(d, d->put_meta, "mesh_range", cidr_format(&s->mesh, b), e) < 0 ||
	    put(d, d->put_meta, "mesh_range6", s->has_mesh6 ? cidr_format(&s->mesh6, b6) : "none",
		e) < 0 ||
	    put(d, d->put_meta, "next_address_index", num, e) < 0)
		return -1;
	return 0;
}

static void sidx_put(struct store_db *d, struct ctl_connector *c);

/* A connector's row; an enrolled one's secret goes into the index as well. */
static int put_conn(struct store_db *d, struct ctl_connector *c, mg_err *e)
{
	sidx_put(d, c);
	return put_json(d, T_CONN, c->id, conn_to_store_json(c), e);
}

static int write_all(struct store_db *d, const struct ctl_store *s, mg_err *e)
{
	for (size_t i = 0; i < s->n_nets; i++)
		if (put_json(d, T_NET, s->nets[i]->id, net_to_json(s->nets[i]), e) < 0)
			return -1;
	for (size_t i = 0; i < s->n_conns; i++)
		if (put_conn(d, s->conns[i], e) < 0)
			return -1;
	for (size_t i = 0; i < s->n_users; i++)
		if (put_json(d, T_USER, s->users[i]->id, user_to_store_json(s->users[i]), e) < 0)
			return -1;
	return 0;
}

void store_touch_conn(struct ctl_store *s, struct ctl_connector *c)
{
	struct store_db *d = s->db;

	if (!d)
		return;
	for (size_t i = 0; i < d->n_touched; i++)
		if (d->touched[i] == c)
			return;
	if (d->n_touched == d->cap_touched) {
		size_t cap = d->cap_touched ? 2 * d->cap_touched : 16;
		struct ctl_connector **v = realloc(d->touched, cap * sizeof(*v));
		if (!v) {
			/* cannot remember it: forget the list, the next save writes all */
			d->n_touched = 0;
			d->all = true;
			return;
		}
		d->touched = v;
		d->cap_touched = cap;
	}
	d->touched[d->n_touched++] = c;
}

/* --- hash indexes: device secret and enrolment token -> connector ------------------- */

static size_t hidx_slot(const uint8_t h[32], size_t cap)
{
	uint64_t v;

	memcpy(&v, h, sizeof(v)); /* a SHA-256: its bytes are uniform already */
	return (size_t)(v & (cap - 1));
}

static const uint8_t *hidx_key(const struct hidx *x, const struct ctl_connector *c)
{
	return x->token ? c->token_hash : c->secret_hash;
}

static void hidx_put(struct hidx *x, struct ctl_connector *c)
{
	size_t i;

	if ((x->n + 1) * 2 > x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 1024;
		struct ctl_connector **v = calloc(cap, sizeof(*v)), **old = x->v;
		if (!v)
			return; /* no room: lookups scan */
		for (size_t k = 0; k < x->cap; k++)
			if (old[k]) {
				for (i = hidx_slot(hidx_key(x, old[k]), cap); v[i];
				     i = (i + 1) & (cap - 1))
					;
				v[i] = old[k];
			}
		free(old);
		x->v = v;
		x->cap = cap;
	}
	for (i = hidx_slot(hidx_key(x, c), x->cap); x->v[i]; i = (i + 1) & (x->cap - 1))
		if (x->v[i] == c)
			return;
	x->v[i] = c;
	x->n++;
}

static void sidx_put(struct store_db *d, struct ctl_connector *c)
{
	if (c->enrolled)
		hidx_put(&d->secrets, c);
	hidx_put(&d->tokens, c);
}

/* Every hit is checked against the connector (a key may have changed since it was
 * indexed); a miss falls back to the whole list, as before, and indexes what it finds. */
static struct ctl_connector *hidx_find(const struct ctl_store *s, struct hidx *x,
				       const uint8_t h[32])
{
	struct ctl_connector *found = NULL;

	if (x && x->cap)
		for (size_t i = hidx_slot(h, x->cap); x->v[i]; i = (i + 1) & (x->cap - 1))
			if ((x->token || x->v[i]->enrolled) &&
			    !CRYPTO_memcmp(h, hidx_key(x, x->v[i]), 32))
				return x->v[i];
	for (size_t i = 0; i < s->n_conns; i++)
		if ((!x || x->token || s->conns[i]->enrolled) &&
		    CRYPTO_memcmp(
			h, x && x->token ? s->conns[i]->token_hash : s->conns[i]->secret_hash,
			32) == 0)
			found = s->conns[i];
	if (found && x)
		hidx_put(x, found);
	return found;
}

struct ctl_connector *store_find_by_secret(const struct ctl_store *s, const uint8_t h[32])
{
	struct ctl_connector *found = NULL;

	if (s->db)
		return hidx_find(s, &s->db->secrets, h);
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i]->enrolled && CRYPTO_memcmp(h, s->conns[i]->secret_hash, 32) == 0)
			found = s->conns[i];
	return found;
}

struct ctl_connector *store_find_by_token(const struct ctl_store *s, const uint8_t h[32])
{
	struct ctl_connector *found = NULL;

	if (s->db)
		return hidx_find(s, &s->db->tokens, h);
	for (size_t i = 0; i < s->n_conns; i++)
		if (CRYPTO_memcmp(h, s->conns[i]->token_hash, 32) == 0)
			found = s->conns[i];
	return found;
}

void store_touch_all(struct ctl_store *s)
{
	if (s->db)
		s->db->all = true;
}

void store_touch_nets(struct ctl_store *s)
{
	if (s->db)
		s->db->nets = true;
}

bool store_declared(const struct ctl_store *s)
{
	return s->db && !s->db->all && (s->db->nets || s->db->n_touched);
}

size_t store_touched(const struct ctl_store *s, struct ctl_connector *const **out)
{
	*out = s->db ? s->db->touched : NULL;
	return s->db && !s->db->all && !s->db->nets ? s->db->n_touched : 0;
}

int store_save(struct ctl_store *s, const char *path, mg_err *e)
{
	struct store_db *d = s->db;
	int rc;

	(void)path;
	if (!d)
		return mg_err_set(e, "the store database is not open");
	if (!d->in_txn) {
		if (exec(d, "BEGIN IMMEDIATE", e) < 0)
			return -1;
		d->in_txn = true;
	}
	rc = put_meta(d, s, e);
	if (rc == 0 && (d->n_touched || d->nets) && !d->all) {
		for (size_t i = 0; d->nets && i < s->n_nets && rc == 0; i++)
			rc = put_json(d, T_NET, s->nets[i]->id, net_to_json(s->nets[i]), e);
		for (size_t i = 0; i < d->n_touched && rc == 0; i++)
			rc = put_conn(d, d->touched[i], e);
	} else if (rc == 0) {
		rc = write_all(d, s, e);
	}
	d->n_touched = 0;
	d->all = false;
	d->nets = false;
	if (rc < 0) {
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		d->in_txn = false;
		return -1;
	}
	return d->group ? 0 : store_flush(s, e);
}

int store_flush(struct ctl_store *s, mg_err *e)
{
	struct store_db *d = s->db;

	if (!d || !d->in_txn)
		return 0;
	d->in_txn = false;
	if (exec(d, "COMMIT", e) < 0) {
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

bool store_pending(const struct ctl_store *s)
{
	return s->db && s->db->in_txn;
}

void store_group(struct ctl_store *s, bool on)
{
	if (s->db)
		s->db->group = on;
}

/* Rows of one table as a JSON array, in the order they were made. */
static int read_table(struct store_db *d, int t, cJSON *arr, mg_err *e)
{
	char sql[64];
	sqlite3_stmt *st = NULL;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT id, doc FROM %s ORDER BY rowid", tables[t]);
	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(d, e, "read");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *doc = (const char *)sqlite3_column_text(st, 1);
		int len = sqlite3_column_bytes(st, 1);
		cJSON *o = doc ? jsonu_parse(doc, (size_t)len, CTL_BODY_MAX, e) : NULL;
		if (!o) {
			mg_err_prefix(e, "%s row %s", tables[t],
				      (const char *)sqlite3_column_text(st, 0));
			sqlite3_finalize(st);
			return -1;
		}
		if (!cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			sqlite3_finalize(st);
			return mg_err_set(e, "out of memory");
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(d, e, "read");
	return 0;
}

/* The database as the store.json document; NULL tree (and 0) when it holds no store. */
static int read_tree(struct store_db *d, cJSON **out, mg_err *e)
{
	sqlite3_stmt *st = NULL;
	cJSON *root = cJSON_CreateObject(), *arr;
	bool any = false;
	int rc;

	*out = NULL;
	if (!root)
		return mg_err_set(e, "out of memory");
	if (sqlite3_prepare_v2(d->db, "SELECT k, v FROM meta", -1, &st, NULL) != SQLITE_OK) {
		cJSON_Delete(root);
		return db_err(d, e, "read");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);
		cJSON *item;
		char *end;
		long long n;

		if (!k || !v)
			continue;
		any = true;
		n = strtoll(v, &end, 10);
		item = *v && !*end ? cJSON_CreateNumber((double)n) : cJSON_CreateString(v);
		if (!item || !cJSON_AddItemToObject(root, k, item)) {
			cJSON_Delete(item);
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cJSON_Delete(root);
		return rc == SQLITE_NOMEM ? mg_err_set(e, "out of memory") : db_err(d, e, "read");
	}
	if (!any) {
		cJSON_Delete(root);
		return 0;
	}
	for (int t = 0; t < 3; t++) {
		arr = cJSON_AddArrayToObject(root, tables[t]);
		if (!arr || read_table(d, t, arr, e) < 0) {
			if (!arr)
				mg_err_set(e, "out of memory");
			cJSON_Delete(root);
			return -1;
		}
	}
	*out = root;
	return 0;
}

/* "<dir>/store.db" -> "<dir>/store.json<suffix>" */
static int legacy_path(const char *path, const char *suffix, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	int n = snprintf(out, len, "%.*s" CTL_STORE_LEGACY "%s",
			 slash ? (int)(slash - path + 1) : 0, path, suffix);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int migrate(struct ctl_store *s, const char *path, mg_err *e)
{
	char old[4200], done[4220];

	if (legacy_path(path, "", old, sizeof(old)) < 0 ||
	    legacy_path(path, ".migrated", done, sizeof(done)) < 0)
		return mg_err_set(e, "state directory path too long");
	if (access(old, F_OK) < 0)
		return 0;
	if (store_load_file(s, old, e) < 0)
		return -1;
	if (exec(s->db, "BEGIN IMMEDIATE", e) < 0)
		return -1;
	s->db->in_txn = true;
	if (put_meta(s->db, s, e) < 0 || write_all(s->db, s, e) < 0 || store_flush(s, e) < 0) {
		if (s->db->in_txn)
			sqlite3_exec(s->db->db, "ROLLBACK", NULL, NULL, NULL);
		s->db->in_txn = false;
		return mg_err_prefix(e, "migrating %s", old);
	}
	if (rename(old, done) < 0)
		log_warn("%s migrated into %s, but renaming it to %s failed: %s", old, path, done,
			 strerror(errno));
	else
		log_info("%s migrated into %s (the old file is kept as %s)", old, path, done);
	return 0;
}

int store_load(struct ctl_store *s, const char *path, mg_err *e)
{
	cJSON *tree = NULL;

	if (s->db)
		store_db_close(s);
	if (db_open(path, &s->db, e) < 0)
		goto fail;
	if (read_tree(s->db, &tree, e) < 0)
		goto fail;
	if (!tree) /* a new database: the old file's content, if there is one */
		return migrate(s, path, e) < 0 ? (store_db_close(s), -1) : 0;
	if (store_load_tree(s, tree, e) < 0)
		goto fail;
	return 0;
fail:
	store_db_close(s);
	return mg_err_prefix(e,
			     "%s is corrupt or inconsistent (refusing to start; fix or move "
			     "it away)",
			     path);
}

int store_dump(const char *path, mg_err *e)
{
	struct store_db *d = NULL;
	cJSON *tree = NULL;
	char *txt;

	if (access(path, F_OK) < 0)
		return mg_err_set(e, "%s: %s", path, strerror(errno));
	if (db_open(path, &d, e) < 0)
		return -1;
	if (read_tree(d, &tree, e) < 0) {
		db_close(d);
		return -1;
	}
	db_close(d);
	txt = tree ? cJSON_Print(tree) : NULL;
	cJSON_Delete(tree);
	if (!txt)
		return mg_err_set(e, "%s holds no store", path);
	printf("%s\n", txt);
	cJSON_free(txt);
	return fflush(stdout) == 0 ? 0 : mg_err_set(e, "writing stdout: %s", strerror(errno));
}
