/* SPDX-License-Identifier: MIT */
/* meshgate doctor's pure parts: the report (text grouping, JSON, exit codes), the
 * sysctl.d reading (last assignment, patterns, precedence of directories) and the
 * Date-header clock skew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doc.h"
#include "fsutil.h"

static void test_exit_codes(void **st)
{
	struct doc_report r = {0};
	(void)st;

	assert_int_equal(doc_exit_code(&r), 0);
	doc_add(&r, DOC_OK, "host", "a", "fine");
	doc_add(&r, DOC_SKIP, "cloud", "b", "not here");
	assert_int_equal(doc_exit_code(&r), 0);
	doc_add(&r, DOC_WARN, "host", "c", "hmm");
	assert_int_equal(doc_exit_code(&r), 1);
	doc_add(&r, DOC_FAIL, "host", "d", "broken");
	assert_int_equal(doc_exit_code(&r), 2);
	assert_int_equal(doc_count(&r, DOC_OK), 1);
	assert_int_equal(doc_count(&r, DOC_FAIL), 1);
	doc_report_free(&r);
}

static void test_text_grouped(void **st)
{
	struct doc_report r = {0};
	struct mg_buf b = {0};
	struct doc_finding *f;
	(void)st;

	doc_add(&r, DOC_OK, "host", "ok-one", "all good");
	f = doc_add(&r, DOC_WARN, "firewall", "w-one", "a warning %d", 7);
	doc_why(f, "because");
	doc_fix(f, "do this");
	f = doc_add(&r, DOC_FAIL, "path", "f-one", "a failure");
	doc_why(f, "it breaks");
	doc_fix(f, "a very long fix text that goes on and on, naming commands such as `ip route "
		   "add 100.96.0.0/11 via 192.0.2.2` and more words after it to force a wrap");
	f->fixable = DOC_FIX_SYSCTL;
	doc_add(&r, DOC_SKIP, "cloud", "s-one", "not a cloud VM");
	assert_int_equal(doc_render_text(&r, false, &b), 0);
	const char *t = b.p;
	assert_non_null(strstr(t, "1 failure, 1 warning, 1 ok, 1 not checked"));
	const char *pf = strstr(t, "\nFAIL (1)"), *pw = strstr(t, "\nWARN (1)");
	const char *po = strstr(t, "\nOK (1)"), *ps = strstr(t, "\nSKIP (1)");
	assert_non_null(pf);
	assert_non_null(pw);
	assert_non_null(po);
	assert_non_null(ps);
	assert_true(pf < pw && pw < po && po < ps);
	assert_non_null(
	    strstr(t, "[path/f-one] a failure\n      why: it breaks\n      fix: a very"));
	assert_non_null(strstr(t, "[firewall/w-one] a warning 7"));
	assert_non_null(strstr(t, "(meshgate doctor --fix repairs this)"));
	assert_non_null(strstr(t, "exit code 2"));
	/* no line longer than the wrap width plus the indent and label */
	for (const char *l = t; *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		if (strncmp(l, "  [", 3))
			assert_true(n <= 79);
		l += n + (nl != NULL);
	}
	/* ok findings' why/fix only when verbose */
	mg_buf_free(&b);
	doc_report_free(&r);
}

static void test_json(void **st)
{
	struct doc_report r = {0};
	struct doc_finding *f;
	(void)st;

	f = doc_add(&r, DOC_FAIL, "host", "ip-forwarding", "off \"quoted\"");
	doc_fix(f, "sysctl -w net.ipv4.ip_forward=1");
	f->fixable = DOC_FIX_SYSCTL;
	doc_add(&r, DOC_WARN, "host", "x", "w");
	cJSON *j = doc_render_json(&r);
	assert_non_null(j);
	char *s = cJSON_PrintUnformatted(j);
	cJSON *back = cJSON_Parse(s);
	assert_non_null(back);
	const cJSON *sum = cJSON_GetObjectItem(back, "summary");
	assert_int_equal(cJSON_GetObjectItem(sum, "fail")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(sum, "warn")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(sum, "exit_code")->valueint, 2);
	const cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(back, "findings"), 0);
	assert_string_equal(cJSON_GetObjectItem(f0, "severity")->valuestring, "fail");
	assert_string_equal(cJSON_GetObjectItem(f0, "id")->valuestring, "ip-forwarding");
	assert_string_equal(cJSON_GetObjectItem(f0, "what")->valuestring, "off \"quoted\"");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(f0, "fixable")));
	cJSON_Delete(back);
	cJSON_free(s);
	cJSON_Delete(j);
	doc_report_free(&r);
}

static void test_sysctl_text(void **st)
{
	const char *t = "# comment\n; another\n net.ipv4.ip_forward=1\n"
			"-net/ipv4/ip_forward = 0 \r\n"
			"net.ipv4.conf.*.rp_filter = 1\n"
			"net.ipv4.conf.all.rp_filter = 2\n"
			"garbage line\n=\n";
	char v[16];
	int line = 0;
	(void)st;

	assert_int_equal(
	    doc_sysctl_text_value(t, strlen(t), "net.ipv4.ip_forward", v, sizeof(v), &line), 1);
	assert_string_equal(v, "0");
	assert_int_equal(line, 4);
	/* a pattern matches; the later exact line wins for all, the pattern for eth0 */
	assert_int_equal(doc_sysctl_text_value(t, strlen(t), "net.ipv4.conf.eth0.rp_filter", v,
					       sizeof(v), &line),
			 1);
	assert_string_equal(v, "1");
	assert_int_equal(line, 5);
	assert_int_equal(
	    doc_sysctl_text_value(t, strlen(t), "net.ipv4.conf.all.rp_filter", v, sizeof(v), &line),
	    1);
	assert_string_equal(v, "2");
	/* slashed form: a dot belongs to the name (VLAN interfaces) */
	const char *u = "net/ipv4/conf/eth0.5/rp_filter = 1\n";
	assert_int_equal(doc_sysctl_text_value(u, strlen(u), "net.ipv4.conf.eth0/5.rp_filter", v,
					       sizeof(v), &line),
			 1);
	assert_int_equal(doc_sysctl_text_value(t, strlen(t), "net.ipv6.conf.all.forwarding", v,
					       sizeof(v), &line),
			 0);
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(fs_mkdir_p(dir, 0755, NULL), 0);
	assert_int_equal(fs_write_atomic(p, text, strlen(text), 0644, NULL), 0);
}

static void test_sysctl_boot(void **st)
{
	char root[] = "/tmp/mg-doc-XXXXXX", etc[PATH_MAX], usr[PATH_MAX], dirs[PATH_MAX * 2 + 2];
	char conf[PATH_MAX], file[PATH_MAX * 2], v[16];
	int line = 0;
	(void)st;

	assert_non_null(mkdtemp(root));
	snprintf(etc, sizeof(etc), "%s/etc", root);
	snprintf(usr, sizeof(usr), "%s/usr", root);
	snprintf(dirs, sizeof(dirs), "%s:%s", etc, usr);
	snprintf(conf, sizeof(conf), "%s/sysctl.conf", root);
	put(usr, "50-default.conf", "net.ipv4.ip_forward = 0\n");
	put(etc, "90-meshgate.conf", "net.ipv4.ip_forward = 1\n");
	assert_int_equal(doc_sysctl_boot_value(dirs, conf, "net.ipv4.ip_forward", file,
					       sizeof(file), v, sizeof(v), &line),
			 1);
	assert_string_equal(v, "1");
	assert_non_null(strstr(file, "/etc/90-meshgate.conf"));
	/* a later name wins, wherever it lives */
	put(usr, "99-vendor.conf", "net.ipv4.ip_forward = 0\n");
	assert_int_equal(doc_sysctl_boot_value(dirs, conf, "net.ipv4.ip_forward", file,
					       sizeof(file), v, sizeof(v), &line),
			 1);
	assert_string_equal(v, "0");
	assert_non_null(strstr(file, "/usr/99-vendor.conf"));
	/* the same name in an earlier directory masks it */
	put(etc, "99-vendor.conf", "# masked\n");
	assert_int_equal(doc_sysctl_boot_value(dirs, conf, "net.ipv4.ip_forward", file,
					       sizeof(file), v, sizeof(v), &line),
			 1);
	assert_string_equal(v, "1");
	/* sysctl.conf is read last */
	put(root, "sysctl.conf", "\n\nnet.ipv4.ip_forward=0\n");
	assert_int_equal(doc_sysctl_boot_value(dirs, conf, "net.ipv4.ip_forward", file,
					       sizeof(file), v, sizeof(v), &line),
			 1);
	assert_string_equal(file, conf);
	assert_int_equal(line, 3);
	static const char *const made[] = {"usr/50-default.conf",
					   "usr/99-vendor.conf",
					   "etc/90-meshgate.conf",
					   "etc/99-vendor.conf",
					   "sysctl.conf",
					   "usr",
					   "etc",
					   ""};
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(file, sizeof(file), "%s/%s", root, made[i]);
		assert_int_equal(remove(file), 0);
	}
}

static void test_date_skew(void **st)
{
	long long skew = 0;
	(void)st;
	/* 2026-12-02 14:15:50 UTC = 1796220950 */
	assert_int_equal(doc_http_date_skew("Wed, 02 Dec 2026 14:15:50 GMT", 1796220950, &skew), 0);
	assert_int_equal(skew, 0);
	assert_int_equal(doc_http_date_skew("Wed, 02 Dec 2026 14:20:50 GMT", 1796220950, &skew), 0);
	assert_int_equal(skew, 300);
	assert_int_equal(doc_http_date_skew("Wed, 02 Dec 2026 14:15:00 GMT", 1796220950, &skew), 0);
	assert_int_equal(skew, -50);
	assert_int_equal(doc_http_date_skew("not a date", 1796220950, &skew), -1);
	assert_int_equal(doc_http_date_skew("", 1796220950, &skew), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_codes),  cmocka_unit_test(test_text_grouped),
	    cmocka_unit_test(test_json),        cmocka_unit_test(test_sysctl_text),
	    cmocka_unit_test(test_sysctl_boot), cmocka_unit_test(test_date_skew),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
