/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "config.h"
#include "connstr.h"
#include "fsutil.h"
#include "jsonu.h"

int state_path(const char *dir, const char *name, char *buf, size_t len, mg_err *e)
{
	if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		return mg_err_set(e, "state directory path too long");
	return 0;
}

bool state_enrolled(const char *dir)
{
	char p[PATH_MAX];
	return state_path(dir, "device.json", p, sizeof(p), NULL) == 0 && fs_exists(p);
}

void state_wipe(struct agent_state *st)
{
	wgkey_wipe(st, sizeof(*st));
}

int state_save_key(const char *dir, const uint8_t priv[WG_KEY_LEN], mg_err *e)
{
	char p[PATH_MAX], b64[WG_KEY_B64_LEN + 1];
	int r;

	if (state_path(dir, "private.key", p, sizeof(p), e) < 0)
		return -1;
	wgkey_to_base64(priv, b64);
	strcat(b64, "\n");
	r = fs_write_atomic(p, b64, strlen(b64), 0600, e);
	wgkey_wipe(b64, sizeof(b64));
	return r;
}

static int load_key(const char *dir, uint8_t priv[WG_KEY_LEN], mg_err *e)
{
	char p[PATH_MAX], *buf = NULL;
	size_t len;

	if (state_path(dir, "private.key", p, sizeof(p), e) < 0 ||
	    fs_read_bounded(p, 128, &buf, &len, e) < 0)
		return -1;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	int r = wgkey_from_base64(buf, priv);
	wgkey_wipe(buf, len);
	free(buf);
	if (r < 0)
		return mg_err_set(e, "%s is not a base64 WireGuard private key", p);
	return 0;
}

int state_load(const char *dir, struct agent_state *st, mg_err *e)
{
	char p[PATH_MAX], *buf = NULL;
	size_t len;
	cJSON *j;

	memset(st, 0, sizeof(*st));
	if (state_path(dir, "device.json", p, sizeof(p), e) < 0)
		return -1;
	if (fs_read_bounded(p, STATE_FILE_MAX, &buf, &len, e) < 0) {
		int err = errno;
		if (err == ENOENT)
			mg_err_set(e, "not enrolled (no %s); run: meshgate up --connect <string>",
				   p);
		errno = err;
		return -1;
	}
	j = jsonu_parse(buf, len, STATE_FILE_MAX, e);
	wgkey_wipe(buf, len);
	free(buf);
	if (!j)
		return mg_err_prefix(e, "%s", p);
	int64_t t = 0;
	if (jsonu_copy_str(j, "device_id", true, st->device_id, sizeof(st->device_id), e) < 0 ||
	    jsonu_copy_str(j, "network_id", false, st->network_id, sizeof(st->network_id), e) < 0 ||
	    jsonu_copy_str(j, "device_secret", true, st->secret, sizeof(st->secret), e) < 0 ||
	    jsonu_copy_str(j, "controller_url", true, st->target.url, sizeof(st->target.url), e) <
		0 ||
	    jsonu_copy_str(j, "pin", true, st->target.pin, sizeof(st->target.pin), e) < 0 ||
	    jsonu_copy_str(j, "ca_file", false, st->target.ca_file, sizeof(st->target.ca_file), e) <
		0 ||
	    jsonu_copy_str(j, "ifname", false, st->ifname, sizeof(st->ifname), e) < 0 ||
	    jsonu_get_int(j, "enrolled_at", false, 0, INT64_MAX, &t, e) < 0) {
		cJSON_Delete(j);
		state_wipe(st);
		return mg_err_prefix(e, "%s", p);
	}
	st->enrolled_at = t;
	cJSON_Delete(j);
	if (connstr_check_url(st->target.url, e) < 0 || connstr_check_pin(st->target.pin, e) < 0) {
		state_wipe(st);
		return mg_err_prefix(e, "%s", p);
	}
	if (load_key(dir, st->priv, e) < 0 || wgkey_public(st->priv, st->pub, e) < 0) {
		state_wipe(st);
		return -1;
	}
	return 0;
}

int state_save(const char *dir, const struct agent_state *st, mg_err *e)
{
	char p[PATH_MAX], *txt;
	cJSON *j = cJSON_CreateObject();
	int r;

	if (!j || !cJSON_AddStringToObject(j, "device_id", st->device_id) ||
	    !cJSON_AddStringToObject(j, "network_id", st->network_id) ||
	    !cJSON_AddStringToObject(j, "device_secret", st->secret) ||
	    !cJSON_AddStringToObject(j, "controller_url", st->target.url) ||
	    !cJSON_AddStringToObject(j, "pin", st->target.pin) ||
	    (st->target.ca_file[0] && !cJSON_AddStringToObject(j, "ca_file", st->target.ca_file)) ||
	    (st->ifname[0] && !cJSON_AddStringToObject(j, "ifname", st->ifname)) ||
	    !cJSON_AddNumberToObject(j, "enrolled_at", (double)st->enrolled_at)) {
		cJSON_Delete(j);
		return mg_err_set(e, "out of memory");
	}
	txt = cJSON_Print(j);
	cJSON_Delete(j);
	if (!txt)
		return mg_err_set(e, "out of memory");
	r = state_path(dir, "device.json", p, sizeof(p), e);
	if (r == 0)
		r = fs_write_atomic(p, txt, strlen(txt), 0600, e);
	wgkey_wipe(txt, strlen(txt));
	cJSON_free(txt);
	return r;
}

int state_lock(const char *dir, mg_err *e)
{
	char p[PATH_MAX];
	int fd;

	if (state_path(dir, "lock", p, sizeof(p), e) < 0)
		return -1;
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mg_err_set(e, "open %s: %s", p, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK)
			return mg_err_set(e,
					  "another meshgate process holds %s (is the service "
					  "running?)",
					  p);
		return mg_err_set(e, "lock %s: %s", p, strerror(err));
	}
	return fd;
}

int state_load_config(const char *dir, char **json, size_t *len, mg_err *e)
{
	char p[PATH_MAX];
	if (state_path(dir, "config.json", p, sizeof(p), e) < 0)
		return -1;
	return fs_read_bounded(p, CONFIG_MAX_BYTES, json, len, e);
}

int state_save_config(const char *dir, const char *json, size_t len, mg_err *e)
{
	char p[PATH_MAX];
	if (state_path(dir, "config.json", p, sizeof(p), e) < 0)
		return -1;
	return fs_write_atomic(p, json, len, 0600, e);
}

cJSON *state_load_status(const char *dir, mg_err *e)
{
	char p[PATH_MAX], *buf;
	size_t len;
	cJSON *j;

	if (state_path(dir, "status.json", p, sizeof(p), e) < 0)
		return NULL;
	if (fs_read_bounded(p, STATE_FILE_MAX, &buf, &len, e) < 0)
		return NULL;
	j = jsonu_parse(buf, len, STATE_FILE_MAX, e);
	free(buf);
	return j;
}

int state_save_status(const char *dir, const cJSON *status, mg_err *e)
{
	char p[PATH_MAX], *txt;
	int r;

	if (state_path(dir, "status.json", p, sizeof(p), e) < 0)
		return -1;
	txt = cJSON_Print(status);
	if (!txt)
		return mg_err_set(e, "out of memory");
	r = fs_write_atomic(p, txt, strlen(txt), 0600, e);
	cJSON_free(txt);
	return r;
}
