/* SPDX-License-Identifier: MIT */
/* sysctl handling against a fake /proc/sys tree: relax, record, drop-in, restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "sysctl.h"

struct fx {
	char root[64];
	char proc[PATH_MAX];
	char state[PATH_MAX];
	char dropin[PATH_MAX];
	struct sysctl_ctx c;
};

static void put(struct fx *f, const char *rel, const char *val)
{
	char p[PATH_MAX * 2], dir[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/%s", f->proc, rel);
	snprintf(dir, sizeof(dir), "%s", p);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(fs_mkdir_p(dir, 0755, NULL), 0);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\n", val);
	fclose(fp);
}

static const char *get(struct fx *f, const char *rel)
{
	static char v[32];
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/%s", f->proc, rel);
	assert_int_equal(sysctl_read(p, v, sizeof(v), NULL), 0);
	return v;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/mg-sysctl-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->proc, sizeof(f->proc), "%s/proc", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->dropin, sizeof(f->dropin), "%s/90-meshgate.conf", f->root);
	assert_int_equal(fs_mkdir_p(f->state, 0700, NULL), 0);
	put(f, "net/ipv4/ip_forward", "0");
	put(f, "net/ipv6/conf/all/forwarding", "0");
	put(f, "net/ipv4/conf/all/rp_filter", "1");
	put(f, "net/ipv4/conf/default/rp_filter", "0");
	put(f, "net/ipv4/conf/mg0/rp_filter", "1");
	put(f, "net/ipv4/conf/eth0.100/rp_filter", "1");
	put(f, "net/ipv6/conf/eth0.100/accept_ra", "1");
	sysctl_ctx_init(&f->c, f->state, f->dropin, f->proc);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 16];
	/* test scaffolding only: remove the temporary tree */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_apply_relaxes_and_records(void **state)
{
	struct fx *f = *state;
	const char *lan[] = {"eth0.100"};
	int changed = -1;
	char *txt;
	size_t len;

	assert_int_equal(sysctl_apply(&f->c, "mg0", lan, 1, &changed, NULL), 0);
	assert_int_equal(changed, 6);
	assert_string_equal(get(f, "net/ipv4/ip_forward"), "1");
	assert_string_equal(get(f, "net/ipv6/conf/all/forwarding"), "1");
	assert_string_equal(get(f, "net/ipv4/conf/all/rp_filter"), "2");
	assert_string_equal(get(f, "net/ipv4/conf/default/rp_filter"), "0"); /* 0 is laxer */
	assert_string_equal(get(f, "net/ipv4/conf/mg0/rp_filter"), "2");
	assert_string_equal(get(f, "net/ipv4/conf/eth0.100/rp_filter"), "2");
	assert_string_equal(get(f, "net/ipv6/conf/eth0.100/accept_ra"), "2");

	assert_int_equal(fs_read_bounded(f->dropin, 8192, &txt, &len, NULL), 0);
	assert_non_null(strstr(txt, "net.ipv4.ip_forward = 1\n"));
	/* a dot in an interface name is written as '/' in sysctl's dotted notation */
	assert_non_null(strstr(txt, "net.ipv4.conf.eth0/100.rp_filter = 2\n"));
	assert_null(strstr(txt, "default.rp_filter"));
	free(txt);

	/* idempotent: the periodic check changes nothing */
	assert_int_equal(sysctl_apply(&f->c, "mg0", lan, 1, &changed, NULL), 0);
	assert_int_equal(changed, 0);
}

static void test_drift_repaired_prior_kept(void **state)
{
	struct fx *f = *state;
	const char *lan[] = {"eth0.100"};
	int changed, restored, kept;

	assert_int_equal(sysctl_apply(&f->c, "mg0", lan, 1, &changed, NULL), 0);
	put(f, "net/ipv4/ip_forward", "0"); /* someone turned forwarding off */
	assert_int_equal(sysctl_apply(&f->c, "mg0", lan, 1, &changed, NULL), 0);
	assert_int_equal(changed, 1);
	assert_string_equal(get(f, "net/ipv4/ip_forward"), "1");
	/* the recorded prior value is still the original 0, not our own 1 */
	assert_int_equal(sysctl_restore(&f->c, &restored, &kept, NULL), 0);
	assert_string_equal(get(f, "net/ipv4/ip_forward"), "0");
	assert_int_equal(restored, 6);
	assert_int_equal(kept, 0);
}

static void test_restore_respects_others(void **state)
{
	struct fx *f = *state;
	const char *lan[] = {"eth0.100"};
	int changed, restored, kept;

	assert_int_equal(sysctl_apply(&f->c, "mg0", lan, 1, &changed, NULL), 0);
	put(f, "net/ipv4/conf/all/rp_filter", "0"); /* the admin's own change since */
	assert_int_equal(sysctl_restore(&f->c, &restored, &kept, NULL), 0);
	assert_int_equal(kept, 1);
	assert_int_equal(restored, 5);
	assert_string_equal(get(f, "net/ipv4/conf/all/rp_filter"), "0");
	assert_string_equal(get(f, "net/ipv4/conf/mg0/rp_filter"), "1");
	assert_false(fs_exists(f->dropin));
	/* twice: a no-op */
	assert_int_equal(sysctl_restore(&f->c, &restored, &kept, NULL), 0);
	assert_int_equal(restored + kept, 0);
}

static void test_missing_interface_skipped(void **state)
{
	struct fx *f = *state;
	const char *lan[] = {"nosuch0"};
	int changed;

	assert_int_equal(sysctl_apply(&f->c, "mg9", lan, 1, &changed, NULL), 0);
	assert_int_equal(changed, 3); /* forwarding x2 and all.rp_filter */
}

static void test_no_dropin(void **state)
{
	struct fx *f = *state;
	int changed;
	sysctl_ctx_init(&f->c, f->state, "", f->proc);
	assert_int_equal(sysctl_apply(&f->c, "mg0", NULL, 0, &changed, NULL), 0);
	assert_false(fs_exists(f->dropin));
}

/*
 * A write the file takes whole while reporting a short count (Linux 6.1's
 * net.ipv6.conf.all.forwarding answers 1 for "0\n", found by t_kernel_wg_full's
 * t_lifecycle on Debian 12's kernel) succeeds when the file then holds the value; a
 * short write that left another value fails, naming it. RLIMIT_FSIZE of 1 byte makes
 * a regular file take one byte of two.
 */
static void test_short_write(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX * 2];
	struct rlimit old, one;
	mg_err e = {""};
	int r1, r2;

	snprintf(p, sizeof(p), "%s/net/ipv6/conf/all/forwarding", f->proc);
	put(f, "net/ipv6/conf/all/forwarding", "1");
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	one = old;
	one.rlim_cur = 1;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &one), 0);
	r1 = sysctl_write(p, "0", NULL); /* "0" of "0\n" taken: the file says 0 */
	r2 = sysctl_write(p, "10", &e);  /* "1" of "10\n" taken: the file says 1 */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(r1, 0);
	assert_int_equal(r2, -1);
	assert_non_null(strstr(e.msg, "1 of 3 bytes taken, the value is 1"));
	assert_string_equal(get(f, "net/ipv6/conf/all/forwarding"), "1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_apply_relaxes_and_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drift_repaired_prior_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore_respects_others, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_interface_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_dropin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
