/* SPDX-License-Identifier: MIT */
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "jsonu.h"
#include "log.h"

void sysctl_ctx_init(struct sysctl_ctx *c, const char *state_dir, const char *dropin,
		     const char *procroot)
{
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", state_dir);
	snprintf(c->dropin, sizeof(c->dropin), "%s", dropin ? dropin : SYSCTL_DROPIN_DEFAULT);
	snprintf(c->procroot, sizeof(c->procroot), "%s", procroot ? procroot : "/proc/sys");
}

static void add_key(const struct sysctl_ctx *c, struct sysctl_key *out, size_t max, size_t *n,
		    const char *fam, const char *ifname, const char *leaf, const char *want,
		    const char *relax_from)
{
	struct sysctl_key *k;
	char dotted_if[32];

	if (*n >= max)
		return;
	k = &out[*n];
	memset(k, 0, sizeof(*k));
	if (ifname) {
		/* sysctl's dotted notation writes '.' inside a name as '/' */
		snprintf(dotted_if, sizeof(dotted_if), "%s", ifname);
		for (char *p = dotted_if; *p; p++)
			if (*p == '.')
				*p = '/';
		snprintf(k->name, sizeof(k->name), "net.%s.conf.%s.%s", fam, dotted_if, leaf);
		snprintf(k->path, sizeof(k->path), "%s/net/%s/conf/%s/%s", c->procroot, fam, ifname,
			 leaf);
	} else {
		snprintf(k->name, sizeof(k->name), "net.%s.%s", fam, leaf);
		snprintf(k->path, sizeof(k->path), "%s/net/%s/%s", c->procroot, fam, leaf);
	}
	snprintf(k->want, sizeof(k->want), "%s", want);
	snprintf(k->relax_from, sizeof(k->relax_from), "%s", relax_from ? relax_from : "");
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(out[i].name, k->name))
			return; /* the same interface given twice */
	(*n)++;
}

size_t sysctl_keys(const struct sysctl_ctx *c, const char *tun, const char *const *lan,
		   size_t n_lan, struct sysctl_key *out, size_t max)
{
	size_t n = 0;

	add_key(c, out, max, &n, "ipv4", NULL, "ip_forward", "1", NULL);
	add_key(c, out, max, &n, "ipv6", "all", "forwarding", "1", NULL);
	add_key(c, out, max, &n, "ipv4", "all", "rp_filter", "2", "1");
	add_key(c, out, max, &n, "ipv4", "default", "rp_filter", "2", "1");
	if (tun)
		add_key(c, out, max, &n, "ipv4", tun, "rp_filter", "2", "1");
	for (size_t i = 0; i < n_lan; i++) {
		add_key(c, out, max, &n, "ipv4", lan[i], "rp_filter", "2", "1");
		/* forwarding on makes accept_ra=1 ignore router adverts: keep SLAAC working */
		add_key(c, out, max, &n, "ipv6", lan[i], "accept_ra", "2", "1");
	}
	return n;
}

int sysctl_read(const char *path, char *out, size_t len, mg_err *e)
{
	char *buf;
	size_t n;

	if (fs_read_bounded(path, 64, &buf, &n, e) < 0)
		return -1;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	snprintf(out, len, "%s", buf);
	free(buf);
	return 0;
}

int sysctl_write(const char *path, const char *value, mg_err *e)
{
	char line[32];
	int fd, len = snprintf(line, sizeof(line), "%s\n", value);
	ssize_t w;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return mg_err_set(e, "open %s: %s", path, strerror(errno));
	w = write(fd, line, (size_t)len);
	if (w < 0) {
		int err = errno;
		close(fd);
		return mg_err_set(e, "write %s=%s: %s", path, value, strerror(err));
	}
	if (close(fd) < 0)
		return mg_err_set(e, "write %s=%s: %s", path, value, strerror(errno));
	if (w != len) {
		/*
		 * A handler may take the whole value and still report a short count: Linux 6.1
		 * (Debian 12) answers every write to net.ipv6.conf.all.forwarding with 1
		 * (addrconf_sysctl_forward returns its fixup's 1 as the count). What counts is
		 * the value the file holds now.
		 */
		char now[32];
		mg_err re;
		if (sysctl_read(path, now, sizeof(now), &re) < 0)
			return mg_err_set(e, "write %s=%s: %zd of %d bytes taken, and %s", path,
					  value, w, len, re.msg);
		if (strcmp(now, value))
			return mg_err_set(e, "write %s=%s: %zd of %d bytes taken, the value is %s",
					  path, value, w, len, now);
	}
	return 0;
}

/* sysctl.saved: {"<name>": {"path": "...", "prior": "1", "wrote": "2"}, ...} */
static cJSON *saved_load(const struct sysctl_ctx *c, char *path, size_t plen, mg_err *e)
{
	char *buf;
	size_t len;
	cJSON *j;

	if (snprintf(path, plen, "%s/sysctl.saved", c->state_dir) >= (int)plen) {
		mg_err_set(e, "state path too long");
		return NULL;
	}
	if (fs_read_bounded(path, 64 << 10, &buf, &len, e) < 0) {
		if (errno == ENOENT)
			return cJSON_CreateObject();
		return NULL;
	}
	j = jsonu_parse(buf, len, 64 << 10, e);
	free(buf);
	if (!j)
		mg_err_prefix(e, "%s", path);
	return j;
}

static int saved_store(const char *path, const cJSON *j, mg_err *e)
{
	char *t = cJSON_Print(j);
	int r;
	if (!t)
		return mg_err_set(e, "out of memory");
	r = fs_write_atomic(path, t, strlen(t), 0600, e);
	cJSON_free(t);
	return r;
}

static int write_dropin(const struct sysctl_ctx *c, const struct sysctl_key *k, size_t n,
			const cJSON *saved, mg_err *e)
{
	char buf[8192];
	size_t off = 0;

	if (!c->dropin[0])
		return 0;
	off += (size_t)snprintf(buf + off, sizeof(buf) - off,
				"# Written by meshgate: this host routes for the mesh.\n"
				"# Removed (and the prior values restored) by `meshgate down`.\n");
	for (size_t i = 0; i < n && off < sizeof(buf); i++) {
		const cJSON *rec = cJSON_GetObjectItemCaseSensitive(saved, k[i].name);
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(rec, "wrote");
		/* only keys meshgate actually set: a 0 rp_filter stays the admin's choice */
		if (!cJSON_IsString(w))
			continue;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s = %s\n", k[i].name,
					w->valuestring);
	}
	if (off >= sizeof(buf))
		return mg_err_set(e, "sysctl drop-in too large");
	/* skip the write when the content is already there (the periodic check) */
	char *old = NULL;
	size_t olen = 0;
	if (fs_read_bounded(c->dropin, sizeof(buf), &old, &olen, NULL) == 0) {
		bool same = olen == off && !memcmp(old, buf, off);
		free(old);
		if (same)
			return 0;
	}
	return fs_write_atomic(c->dropin, buf, off, 0644, e);
}

int sysctl_apply(const struct sysctl_ctx *c, const char *tun, const char *const *lan, size_t n_lan,
		 int *changed, mg_err *e)
{
	struct sysctl_key keys[SYSCTL_MAX_KEYS];
	char spath[PATH_MAX], cur[32];
	size_t n = sysctl_keys(c, tun, lan, n_lan, keys, SYSCTL_MAX_KEYS);
	cJSON *saved = saved_load(c, spath, sizeof(spath), e);
	int r = 0;

	*changed = 0;
	if (!saved)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct sysctl_key *k = &keys[i];
		mg_err re;
		if (sysctl_read(k->path, cur, sizeof(cur), &re) < 0)
			continue; /* no such interface (yet) or no IPv6 */
		bool need = k->relax_from[0] ? !strcmp(cur, k->relax_from) : strcmp(cur, k->want);
		cJSON *rec = cJSON_GetObjectItemCaseSensitive(saved, k->name);
		if (!need)
			continue;
		if (!rec) {
			/* record before writing, durably: a crash must not lose the prior value */
			rec = cJSON_AddObjectToObject(saved, k->name);
			if (!rec || !cJSON_AddStringToObject(rec, "path", k->path) ||
			    !cJSON_AddStringToObject(rec, "prior", cur) ||
			    !cJSON_AddStringToObject(rec, "wrote", k->want)) {
				r = mg_err_set(e, "out of memory");
				break;
			}
			if (saved_store(spath, saved, e) < 0) {
				r = -1;
				break;
			}
		}
		if (sysctl_write(k->path, k->want, e) < 0) {
			r = -1;
			break;
		}
		log_info("sysctl %s: %s -> %s", k->name, cur, k->want);
		(*changed)++;
	}
	if (r == 0)
		r = write_dropin(c, keys, n, saved, e);
	cJSON_Delete(saved);
	return r;
}

int sysctl_restore(const struct sysctl_ctx *c, int *restored, int *kept, mg_err *e)
{
	char spath[PATH_MAX], cur[32];
	cJSON *saved, *rec;
	int r = 0;

	*restored = *kept = 0;
	if (c->dropin[0] && fs_unlink_if_exists(c->dropin, e) < 0)
		return -1;
	saved = saved_load(c, spath, sizeof(spath), e);
	if (!saved)
		return -1;
	cJSON_ArrayForEach(rec, saved)
	{
		const char *path = NULL, *prior = NULL, *wrote = NULL;
		mg_err re;
		if (jsonu_get_str(rec, "path", true, 255, &path, &re) < 0 ||
		    jsonu_get_str(rec, "prior", true, 16, &prior, &re) < 0 ||
		    jsonu_get_str(rec, "wrote", true, 16, &wrote, &re) < 0)
			continue;
		if (strncmp(path, c->procroot, strlen(c->procroot)) || strstr(path, "..")) {
			log_warn("sysctl.saved: ignoring a path outside %s: %s", c->procroot, path);
			continue;
		}
		if (sysctl_read(path, cur, sizeof(cur), &re) < 0)
			continue; /* the interface is gone: nothing to restore */
		if (strcmp(cur, wrote)) {
			log_info("sysctl %s is now %s, not the %s meshgate wrote: left as is",
				 rec->string, cur, wrote);
			(*kept)++;
			continue;
		}
		if (sysctl_write(path, prior, e) < 0) {
			r = -1;
			continue;
		}
		log_info("sysctl %s: restored %s", rec->string, prior);
		(*restored)++;
	}
	cJSON_Delete(saved);
	if (r == 0 && fs_unlink_if_exists(spath, e) < 0)
		r = -1;
	return r;
}
