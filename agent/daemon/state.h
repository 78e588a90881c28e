/* SPDX-License-Identifier: MIT */
/*
 * The agent's state directory (default /var/lib/meshgate, mode 0700). Every file is
 * written atomically with mode 0600:
 *   device.json   identity: device id, secret, network, controller URL, pin, settings
 *   private.key   the WireGuard private key (base64); made here, never sent anywhere
 *   config.json   the last config document that was applied successfully
 *   status.json   what the agent last knew (versions, last error, runtime figures)
 *   lock          held (flock) by the one process that may change host state
 */
#ifndef MG_STATE_H
#define MG_STATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctlc.h"
#include "err.h"
#include "wgkey.h"

#define STATE_DIR_DEFAULT "/var/lib/meshgate"
#define STATE_FILE_MAX    (64u << 10)

struct agent_state {
	char device_id[64];
	char network_id[64];
	char secret[128];
	struct ctlc_target target;
	char ifname[16];
	int64_t enrolled_at;
	uint8_t priv[WG_KEY_LEN];
	uint8_t pub[WG_KEY_LEN];
};

/* "<dir>/<name>" into buf (PATH_MAX). */
int state_path(const char *dir, const char *name, char *buf, size_t len, mg_err *e);

/* Is there an enrolled identity in `dir`? */
bool state_enrolled(const char *dir);
/* Load device.json and private.key. -1 with errno ENOENT when not enrolled. */
int state_load(const char *dir, struct agent_state *st, mg_err *e);
int state_save(const char *dir, const struct agent_state *st, mg_err *e);
int state_save_key(const char *dir, const uint8_t priv[WG_KEY_LEN], mg_err *e);
void state_wipe(struct agent_state *st);

/* Take the state lock without waiting. Returns an fd to keep open, or -1. */
int state_lock(const char *dir, mg_err *e);

/* Last applied config document (raw JSON). -1 with errno ENOENT when none. */
int state_load_config(const char *dir, char **json, size_t *len, mg_err *e);
int state_save_config(const char *dir, const char *json, size_t len, mg_err *e);

/* status.json: a JSON object; load returns NULL (no error) when absent. */
cJSON *state_load_status(const char *dir, mg_err *e);
int state_save_status(const char *dir, const cJSON *status, mg_err *e);

#endif
