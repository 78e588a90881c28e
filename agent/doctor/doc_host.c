/* SPDX-License-Identifier: MIT */
/*
 * meshgate doctor, the host: IPv4/IPv6 forwarding (and the sysctl.d file that would
 * turn it off at the next boot), reverse-path filtering on the interfaces mesh traffic
 * comes in by. --fix runs the agent's own sysctl apply (prior values recorded, the
 * drop-in written), nothing else.
 */
#include "doc.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "sysctl.h"

#define DOC_SYSCTL_FILE_MAX (1u << 20)
#define DOC_SYSCTL_FILES    512

/* Normalise a key to the dotted form: "net/ipv4/ip_forward" -> "net.ipv4.ip_forward"
 * (in the slashed form a '.' belongs to a name and becomes '/'). */
static void norm_key(const char *in, size_t n, char *out, size_t olen)
{
	size_t slash = strcspn(in, "/"), dot = strcspn(in, ".");
	bool slashed = slash < n && slash < dot;
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < olen; i++) {
		char ch = in[i];
		if (slashed)
			ch = ch == '/' ? '.' : ch == '.' ? '/' : ch;
		out[k++] = ch;
	}
	out[k] = '\0';
}

static const char *trim(const char *s, const char *end, const char **tend)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*tend = end;
	return s;
}

int doc_sysctl_text_value(const char *text, size_t len, const char *key, char *val, size_t vlen,
			  int *line)
{
	const char *p = text, *end = text + len;
	char want[256];
	int ln = 0, found = 0;

	norm_key(key, strlen(key), want, sizeof(want));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
		const char *ks, *ke, *vs, *ve, *eq;
		char k[256];
		ln++;
		ks = trim(p, le, &ke);
		p = nl ? nl + 1 : end;
		if (ks == ke || *ks == '#' || *ks == ';')
			continue;
		if (*ks == '-')
			ks++; /* "-key = v": errors ignored, the assignment still counts */
		eq = memchr(ks, '=', (size_t)(ke - ks));
		if (!eq)
			continue;
		vs = trim(eq + 1, ke, &ve);
		ks = trim(ks, eq, &eq);
		if (ks == eq || (size_t)(eq - ks) >= sizeof(k) ||
		    memchr(ks, '\0', (size_t)(eq - ks)))
			continue;
		norm_key(ks, (size_t)(eq - ks), k, sizeof(k));
		if (strcmp(k, want) && (!strpbrk(k, "*?[") || fnmatch(k, want, 0)))
			continue;
		if (vlen) {
			size_t n = (size_t)(ve - vs) < vlen - 1 ? (size_t)(ve - vs) : vlen - 1;
			memcpy(val, vs, n);
			val[n] = '\0';
			for (size_t i = 0; i < n; i++)
				if (val[i] == '\0')
					val[i] = '?';
		}
		if (line)
			*line = ln;
		found = 1;
	}
	return found;
}

struct conf_file {
	char name[NAME_MAX + 1];
	char path[PATH_MAX];
};

static int cmp_files(const void *a, const void *b)
{
	return strcmp(((const struct conf_file *)a)->name, ((const struct conf_file *)b)->name);
}

static int file_value(const char *path, const char *key, char *val, size_t vlen, int *line)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (fs_read_bounded(path, DOC_SYSCTL_FILE_MAX, &buf, &len, NULL) < 0)
		return 0;
	r = doc_sysctl_text_value(buf, len, key, val, vlen, line);
	free(buf);
	return r;
}

int doc_sysctl_boot_value(const char *dirs, const char *conf, const char *key, char *file,
			  size_t flen, char *val, size_t vlen, int *line)
{
	struct conf_file *v = calloc(DOC_SYSCTL_FILES, sizeof(*v));
	char list[4096], *save = NULL, *d;
	size_t n = 0;
	int found = 0;

	if (!v)
		return 0;
	snprintf(list, sizeof(list), "%s", dirs ? dirs : "");
	for (d = strtok_r(list, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		DIR *dir = opendir(d);
		struct dirent *de;
		if (!dir)
			continue;
		while ((de = readdir(dir)) && n < DOC_SYSCTL_FILES) {
			size_t nl = strlen(de->d_name);
			bool seen = false;
			if (nl < 6 || strcmp(de->d_name + nl - 5, ".conf") || de->d_name[0] == '.')
				continue;
			for (size_t i = 0; i < n && !seen; i++)
				seen = !strcmp(v[i].name, de->d_name);
			if (seen)
				continue; /* an earlier directory's file of that name wins */
			snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
			snprintf(v[n].path, sizeof(v[n].path), "%s/%s", d, de->d_name);
			n++;
		}
		closedir(dir);
	}
	qsort(v, n, sizeof(*v), cmp_files);
	for (size_t i = 0; i <= n; i++) {
		const char *p = i < n ? v[i].path : conf;
		char tv[64];
		int tl = 0;
		if (!p || !*p)
			continue;
		if (file_value(p, key, tv, sizeof(tv), &tl)) {
			snprintf(file, flen, "%s", p);
			snprintf(val, vlen, "%s", tv);
			*line = tl;
			found = 1;
		}
	}
	free(v);
	return found;
}

static int read_proc(const struct doc_ctx *c, const char *rel, char *out, size_t len)
{
	char p[512];
	mg_err e;

	snprintf(p, sizeof(p), "%s/%s", c->o->procroot, rel);
	return sysctl_read(p, out, len, &e);
}

/* Does a sysctl.d file other than ours decide `key` at boot with a value not in `good`? */
static void boot_override(struct doc_ctx *c, const char *key, const char *good, const char *what)
{
	char file[PATH_MAX], val[64];
	int line = 0;
	struct doc_finding *f;

	if (!doc_sysctl_boot_value(c->o->sysctl_dirs, c->o->sysctl_conf, key, file, sizeof(file),
				   val, sizeof(val), &line))
		return;
	if (strstr(good, val) || (c->o->dropin && !strcmp(file, c->o->dropin)))
		return;
	f = doc_add(c->r, DOC_WARN, "host", "sysctl-override",
		    "%s:%d sets %s = %s, and it is the file read last for that key at boot", file,
		    line, key, val);
	doc_why(f,
		"%s: after a reboot, or whenever `sysctl --system` runs, it is undone until the "
		"agent notices and sets it again (up to its next periodic check); during that "
		"window mesh traffic is dropped",
		what);
	doc_fix(f,
		"remove line %d from %s (or set %s = %s there), so that %s decides; meshgate never "
		"edits files that are not its own",
		line, file, key, good[0] == '1' ? "1" : "2",
		c->o->dropin ? c->o->dropin : "its drop-in");
}

static void check_forwarding(struct doc_ctx *c)
{
	char v4[16] = "", v6[16] = "";
	struct doc_finding *f;

	if (read_proc(c, "net/ipv4/ip_forward", v4, sizeof(v4)) < 0) {
		doc_add(c->r, DOC_SKIP, "host", "ip-forwarding",
			"cannot read %s/net/ipv4/ip_forward", c->o->procroot);
	} else if (strcmp(v4, "1")) {
		f = doc_add(c->r, DOC_FAIL, "host", "ip-forwarding",
			    "IPv4 forwarding is off (net.ipv4.ip_forward = %s)", v4);
		doc_why(f, "the kernel drops every packet between the tunnel and the LAN: nothing "
			   "of the mesh reaches the LAN and no LAN host answers the mesh");
		doc_fix(f,
			"sysctl -w net.ipv4.ip_forward=1 (the agent sets it when it starts and "
			"checks it periodically: off means the agent is not running, or something "
			"else turned it off since)");
		f->fixable = DOC_FIX_SYSCTL;
	} else {
		doc_add(c->r, DOC_OK, "host", "ip-forwarding", "IPv4 forwarding is on");
	}
	if (read_proc(c, "net/ipv6/conf/all/forwarding", v6, sizeof(v6)) == 0) {
		if (strcmp(v6, "1")) {
			f = doc_add(c->r, DOC_WARN, "host", "ipv6-forwarding",
				    "IPv6 forwarding is off (net.ipv6.conf.all.forwarding = %s)",
				    v6);
			doc_why(f, "IPv6 subnets of the mesh or of this LAN are not routed");
			doc_fix(f, "sysctl -w net.ipv6.conf.all.forwarding=1");
			f->fixable = DOC_FIX_SYSCTL;
		} else {
			doc_add(c->r, DOC_OK, "host", "ipv6-forwarding", "IPv6 forwarding is on");
		}
	}
	boot_override(c, "net.ipv4.ip_forward", "1", "IPv4 forwarding would be off");
	boot_override(c, "net.ipv6.conf.all.forwarding", "1", "IPv6 forwarding would be off");
}

static void check_rp_filter(struct doc_ctx *c)
{
	char all[16] = "", v[16], rel[128];
	const char *ifs[DOC_MAX_LAN_IFS + 1];
	size_t n = 0, strict = 0;

	if (read_proc(c, "net/ipv4/conf/all/rp_filter", all, sizeof(all)) < 0) {
		doc_add(c->r, DOC_SKIP, "host", "rp-filter", "cannot read rp_filter");
		return;
	}
	ifs[n++] = c->ifname;
	for (size_t i = 0; i < c->n_lan; i++)
		ifs[n++] = c->lan[i];
	for (size_t i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "net/ipv4/conf/%s/rp_filter", ifs[i]);
		if (read_proc(c, rel, v, sizeof(v)) < 0)
			continue; /* not there (the tunnel while the agent is down) */
		/* the kernel uses the larger of all and the interface's value */
		int eff = atoi(all) > atoi(v) ? atoi(all) : atoi(v);
		if (eff != 1)
			continue;
		struct doc_finding *f =
		    doc_add(c->r, DOC_FAIL, "host", "rp-filter",
			    "strict reverse-path filtering on %s (all = %s, %s = %s: effective 1)",
			    ifs[i], all, ifs[i], v);
		doc_why(
		    f,
		    "strict rp_filter drops a packet when the reply to its source would leave by "
		    "another interface: mesh traffic that comes in on %s for a destination routed "
		    "elsewhere, and every asymmetric path, is dropped without a trace",
		    ifs[i]);
		doc_fix(f,
			"sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.%s.rp_filter=2 "
			"(loose: the source must be routable at all, by any interface)",
			ifs[i]);
		f->fixable = DOC_FIX_SYSCTL;
		strict++;
	}
	if (!strict)
		doc_add(c->r, DOC_OK, "host", "rp-filter",
			"no strict reverse-path filtering on %s and %zu LAN interface%s", c->ifname,
			c->n_lan, c->n_lan == 1 ? "" : "s");
	boot_override(c, "net.ipv4.conf.all.rp_filter", "0 2",
		      "strict reverse-path filtering would be back");
}

void doc_check_host(struct doc_ctx *c)
{
	check_forwarding(c);
	check_rp_filter(c);
}

int doc_fix_sysctl(struct doc_ctx *c, mg_err *e)
{
	struct sysctl_ctx sc;
	int changed = 0;

	sysctl_ctx_init(&sc, c->o->state_dir, c->o->dropin, c->o->procroot);
	if (fs_mkdir_p(c->o->state_dir, 0700, e) < 0)
		return -1;
	if (sysctl_apply(&sc, c->ifname, c->lan, c->n_lan, &changed, e) < 0)
		return mg_err_prefix(e, "fixing sysctls");
	fprintf(stderr,
		"meshgate doctor --fix: %d sysctl value%s set (prior values recorded in "
		"%s/sysctl.saved; `meshgate down` restores them)\n",
		changed, changed == 1 ? "" : "s", c->o->state_dir);
	return 0;
}
