/* SPDX-License-Identifier: MIT */
#include "hostid.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

#define HOSTID_FILE_MAX 256

void hostid_format(const char *const *parts, size_t n, char out[HOSTID_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	for (size_t i = 0; ok && i < n; i++) {
		const char *p = parts[i] ? parts[i] : "";
		/* length-prefixed: ("ab","c") and ("a","bc") differ */
		char len[24];
		int l = snprintf(len, sizeof(len), "%zu:", strlen(p));
		ok = EVP_DigestUpdate(ctx, len, (size_t)l) == 1 &&
		     EVP_DigestUpdate(ctx, p, strlen(p)) == 1;
	}
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= HOSTID_HEX_LEN / 2;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		memset(md, 0, sizeof(md)); /* all zeros: still well-formed, never a real host */
	for (size_t i = 0; i < HOSTID_HEX_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[HOSTID_HEX_LEN] = '\0';
}

void hostid_clean_name(const char *in, char *out, size_t len)
{
	size_t k = 0;

	if (!len)
		return;
	for (; in && *in && k + 1 < len; in++)
		out[k++] = (*in >= 0x21 && *in <= 0x7e) ? *in : '?';
	out[k] = '\0';
	if (!k)
		snprintf(out, len, "unknown");
}

/* The first line of `path` (trimmed), or "" when unreadable. */
static void read_line(const char *path, char *out, size_t len)
{
	char *buf = NULL;
	size_t n = 0;
	mg_err e = {""};

	out[0] = '\0';
	if (fs_read_bounded(path, HOSTID_FILE_MAX, &buf, &n, &e) < 0)
		return;
	n = strcspn(buf, "\r\n");
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	snprintf(out, len, "%.*s", (int)n, buf);
	free(buf);
}

int hostid_compute(struct hostid *h, const char *root, mg_err *e)
{
	char path[4096], machine[HOSTID_FILE_MAX + 1], boot[HOSTID_FILE_MAX + 1], ns[32] = "";
	char host[256] = "";
	struct stat sb;
	const char *parts[3] = {machine, boot, ns};

	snprintf(path, sizeof(path), "%s/etc/machine-id", root);
	read_line(path, machine, sizeof(machine));
	if (!machine[0]) {
		snprintf(path, sizeof(path), "%s/var/lib/dbus/machine-id", root);
		read_line(path, machine, sizeof(machine));
	}
	snprintf(path, sizeof(path), "%s/proc/sys/kernel/random/boot_id", root);
	read_line(path, boot, sizeof(boot));
	snprintf(path, sizeof(path), "%s/proc/self/ns/net", root);
	if (stat(path, &sb) == 0)
		snprintf(ns, sizeof(ns), "%llu:%llu", (unsigned long long)sb.st_dev,
			 (unsigned long long)sb.st_ino);
	if (!machine[0] && !boot[0] && !ns[0])
		return mg_err_set(e,
				  "cannot fingerprint this host: no machine id, boot id or network "
				  "namespace under \"%s/\"",
				  root);
	hostid_format(parts, 3, h->id);
	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	hostid_clean_name(host, h->name, sizeof(h->name));
	return 0;
}

static struct hostid self;
static bool self_ok;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_init(void)
{
	mg_err e = {""};
	self_ok = hostid_compute(&self, "", &e) == 0;
}

const struct hostid *hostid_self(void)
{
	pthread_once(&self_once, self_init);
	return self_ok ? &self : NULL;
}
