/* SPDX-License-Identifier: MIT */
/* The agent's host fingerprint (agent/controller/hostid.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "hostid.h"

static void assert_hex32(const char *s)
{
	assert_int_equal(strlen(s), HOSTID_HEX_LEN);
	for (size_t i = 0; i < HOSTID_HEX_LEN; i++)
		assert_true((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'));
}

static void test_format(void **st)
{
	const char *a[] = {"machine", "boot", "4026531840"};
	const char *b[] = {"machine", "boot", "4026532000"};
	const char *c1[] = {"ab", "c"}, *c2[] = {"a", "bc"};
	const char *nul[] = {NULL, "", NULL};
	char x[HOSTID_HEX_LEN + 1], y[HOSTID_HEX_LEN + 1];

	(void)st;
	hostid_format(a, 3, x);
	assert_hex32(x);
	hostid_format(a, 3, y);
	assert_string_equal(x, y); /* stable */
	hostid_format(b, 3, y);
	assert_string_not_equal(x, y); /* another network namespace: another host */
	hostid_format(c1, 2, x);
	hostid_format(c2, 2, y);
	assert_string_not_equal(x, y); /* parts are delimited */
	hostid_format(nul, 3, x);
	assert_hex32(x);
	/* SHA-256 of "0:" "0:" "0:", first 16 bytes */
	assert_string_equal(x, "63cab8e921e413242a44bf4e8fdc999d");
}

static void test_clean_name(void **st)
{
	char out[HOSTID_NAME_MAX + 1];

	(void)st;
	hostid_clean_name("web-1.example", out, sizeof(out));
	assert_string_equal(out, "web-1.example");
	hostid_clean_name("a b\tc\x7f\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "a?b?c???");
	hostid_clean_name("", out, sizeof(out));
	assert_string_equal(out, "unknown");
	hostid_clean_name(NULL, out, sizeof(out));
	assert_string_equal(out, "unknown");
	char big[300];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	hostid_clean_name(big, out, sizeof(out));
	assert_int_equal(strlen(out), HOSTID_NAME_MAX);
}

static void put(const char *root, const char *rel, const char *txt)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(txt, f);
	fclose(f);
}

static void test_compute(void **st)
{
	char root[] = "/tmp/mg-hostid-XXXXXX", p[512];
	struct hostid h1, h2, h3;
	mg_err e = {""};

	(void)st;
	assert_non_null(mkdtemp(root));
	/* nothing readable at all: an error, not a fingerprint of nothing */
	assert_int_equal(hostid_compute(&h1, root, &e), -1);
	assert_non_null(strstr(e.msg, "cannot fingerprint"));
	const char *dirs[] = {"etc",  "var",      "var/lib",         "var/lib/dbus",
			      "proc", "proc/sys", "proc/sys/kernel", "proc/sys/kernel/random"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
		assert_int_equal(mkdir(p, 0700), 0);
	}
	put(root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
	put(root, "proc/sys/kernel/random/boot_id", "b1\n");
	assert_int_equal(hostid_compute(&h1, root, &e), 0);
	assert_hex32(h1.id);
	assert_true(h1.name[0] != '\0');
	/* a trailing newline or blank is not part of the id */
	put(root, "etc/machine-id", "0123456789abcdef0123456789abcdef  \r\n");
	assert_int_equal(hostid_compute(&h2, root, &e), 0);
	assert_string_equal(h1.id, h2.id);
	/* another boot: another fingerprint */
	put(root, "proc/sys/kernel/random/boot_id", "b2\n");
	assert_int_equal(hostid_compute(&h3, root, &e), 0);
	assert_string_not_equal(h1.id, h3.id);
	/* no /etc/machine-id: the D-Bus copy is used */
	snprintf(p, sizeof(p), "%s/etc/machine-id", root);
	assert_int_equal(unlink(p), 0);
	put(root, "var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n");
	assert_int_equal(hostid_compute(&h2, root, &e), 0);
	assert_string_equal(h2.id, h3.id);
	/* the real host: the same every time in one process */
	const struct hostid *s1 = hostid_self(), *s2 = hostid_self();
	assert_non_null(s1);
	assert_ptr_equal(s1, s2);
	assert_hex32(s1->id);
	for (size_t i = sizeof(dirs) / sizeof(dirs[0]); i-- > 0;) {
		char f[512];
		snprintf(f, sizeof(f), "%s/%s/machine-id", root, dirs[i]);
		unlink(f);
		snprintf(f, sizeof(f), "%s/%s/boot_id", root, dirs[i]);
		unlink(f);
		snprintf(f, sizeof(f), "%s/%s", root, dirs[i]);
		rmdir(f);
	}
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_clean_name),
	    cmocka_unit_test(test_compute),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
