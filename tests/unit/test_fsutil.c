/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/fsutil: atomic writes, bounded reads, directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mg-test-fsutil.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static size_t count_entries(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *de;
	size_t n = 0;
	assert_non_null(dh);
	while ((de = readdir(dh)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(dh);
	return n;
}

static void test_atomic_mode_and_umask(void **state)
{
	(void)state;
	char p[300];
	struct stat st;
	mg_err e = {{0}};
	path(p, sizeof(p), "secret");
	mode_t old = umask(0077);
	assert_int_equal(fs_write_atomic(p, "abc", 3, 0644, &e), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	umask(0);
	assert_int_equal(fs_write_atomic(p, "abc", 3, 0600, &e), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(0022);
	assert_int_equal(fs_write_atomic(p, "abc", 3, 0640, &e), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_true(S_ISREG(st.st_mode));
	umask(old);
	assert_int_equal(unlink(p), 0);
}

static void test_atomic_replace(void **state)
{
	(void)state;
	char p[300], *buf = NULL;
	size_t len = 0;
	mg_err e = {{0}};
	path(p, sizeof(p), "state.json");
	assert_int_equal(fs_write_atomic(p, "first version, long", 19, 0600, &e), 0);
	assert_int_equal(fs_write_atomic(p, "second", 6, 0600, &e), 0);
	assert_int_equal(fs_read_bounded(p, 100, &buf, &len, &e), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "second");
	free(buf);
	/* empty content */
	assert_int_equal(fs_write_atomic(p, "", 0, 0600, &e), 0);
	assert_int_equal(fs_read_bounded(p, 100, &buf, &len, &e), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	/* binary content with NUL bytes survives */
	const char bin[] = {'a', 0, 'b', 0, (char)0xff};
	assert_int_equal(fs_write_atomic(p, bin, sizeof(bin), 0600, &e), 0);
	assert_int_equal(fs_read_bounded(p, 100, &buf, &len, &e), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(buf, bin, sizeof(bin));
	free(buf);
	/* no temporary file is left behind */
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(fs_unlink_if_exists(p, &e), 0);
}

static void test_atomic_failures(void **state)
{
	(void)state;
	char p[400], f[300];
	mg_err e = {{0}};
	/* missing directory */
	path(p, sizeof(p), "no/such/dir/file");
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600, &e), -1);
	assert_contains(e.msg, "create");
	/* parent is a regular file */
	path(f, sizeof(f), "plain");
	assert_int_equal(fs_write_atomic(f, "x", 1, 0600, &e), 0);
	snprintf(p, sizeof(p), "%s/child", f);
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600, &e), -1);
	/* the target is a directory: rename fails, the temporary file is removed */
	path(p, sizeof(p), "adir");
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600, &e), -1);
	assert_contains(e.msg, "write");
	assert_int_equal(count_entries(dir), 2);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(unlink(f), 0);
}

static void test_read_bounded(void **state)
{
	(void)state;
	char p[300], *buf = (char *)1;
	size_t len = 99;
	mg_err e = {{0}};
	path(p, sizeof(p), "ten");
	assert_int_equal(fs_write_atomic(p, "0123456789", 10, 0600, &e), 0);
	assert_int_equal(fs_read_bounded(p, 10, &buf, &len, &e), 0); /* exactly the limit */
	assert_int_equal(len, 10);
	assert_string_equal(buf, "0123456789");
	free(buf);
	assert_int_equal(fs_read_bounded(p, 10, &buf, NULL, &e), 0);
	free(buf);
	buf = (char *)1;
	assert_int_equal(fs_read_bounded(p, 9, &buf, &len, &e), -1);
	assert_int_equal(errno, EFBIG);
	assert_contains(e.msg, "more than the 9");
	assert_null(buf);
	assert_int_equal(len, 0);
	/* ENOENT stays visible to the caller */
	path(p, sizeof(p), "missing");
	errno = 0;
	assert_int_equal(fs_read_bounded(p, 10, &buf, &len, &e), -1);
	assert_int_equal(errno, ENOENT);
	assert_contains(e.msg, "missing");
	assert_null(buf);
	/* a directory is an error, not an empty file */
	assert_int_equal(fs_read_bounded(dir, 10, &buf, &len, &e), -1);
	assert_int_equal(errno, EISDIR);
	/* a non-regular file is bounded while reading */
	assert_int_equal(fs_read_bounded("/dev/zero", 4096, &buf, &len, &e), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(buf);
	assert_int_equal(fs_read_bounded("/dev/null", 4096, &buf, &len, &e), 0);
	assert_int_equal(len, 0);
	free(buf);
	path(p, sizeof(p), "ten");
	unlink(p);
}

static void test_mkdir_p(void **state)
{
	(void)state;
	char p[400], f[300];
	struct stat st;
	mg_err e = {{0}};
	path(p, sizeof(p), "a/b/c/d");
	assert_int_equal(fs_mkdir_p(p, 0700, &e), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* existing is fine, trailing slash too */
	assert_int_equal(fs_mkdir_p(p, 0700, &e), 0);
	path(p, sizeof(p), "a/b/c/d/");
	assert_int_equal(fs_mkdir_p(p, 0700, &e), 0);
	path(p, sizeof(p), "a//b2");
	assert_int_equal(fs_mkdir_p(p, 0700, &e), 0);
	assert_int_equal(fs_mkdir_p("/", 0700, &e), 0);
	/* a file in the way */
	path(f, sizeof(f), "a/file");
	assert_int_equal(fs_write_atomic(f, "x", 1, 0600, &e), 0);
	assert_int_equal(fs_mkdir_p(f, 0700, &e), -1);
	assert_contains(e.msg, "is not a directory");
	snprintf(p, sizeof(p), "%s/sub", f);
	assert_int_equal(fs_mkdir_p(p, 0700, &e), -1);
	assert_contains(e.msg, "create directory");
	assert_true(fs_exists(f));
	path(p, sizeof(p), "a/b/c/d");
	assert_true(fs_exists(p));
	path(p, sizeof(p), "a/nope");
	assert_false(fs_exists(p));
}

static void test_writable_dir(void **state)
{
	(void)state;
	char p[400], f[300];
	mg_err e = {{0}};
	assert_int_equal(fs_check_writable_dir(dir, &e), 0);
	/* the probe is removed */
	size_t before = count_entries(dir);
	assert_int_equal(fs_check_writable_dir(dir, &e), 0);
	assert_int_equal(count_entries(dir), before);
	/* root ignores permission bits, so make it fail structurally: a path under a file */
	path(f, sizeof(f), "notadir");
	assert_int_equal(fs_write_atomic(f, "x", 1, 0600, &e), 0);
	snprintf(p, sizeof(p), "%s/state", f);
	assert_int_equal(fs_check_writable_dir(p, &e), -1);
	assert_contains(e.msg, "is not writable");
	assert_int_equal(fs_check_writable_dir(f, &e), -1);
	path(p, sizeof(p), "does/not/exist");
	assert_int_equal(fs_check_writable_dir(p, &e), -1);
	assert_contains(e.msg, "No such file");
	/* a read-only kernel file system refuses even root */
	if (access("/proc/sys", F_OK) == 0) {
		assert_int_equal(fs_check_writable_dir("/proc/sys", &e), -1);
		assert_contains(e.msg, "is not writable");
	}
}

static void test_unlink_if_exists(void **state)
{
	(void)state;
	char p[300];
	mg_err e = {{0}};
	path(p, sizeof(p), "gone");
	assert_int_equal(fs_unlink_if_exists(p, &e), 0);
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600, &e), 0);
	assert_true(fs_exists(p));
	assert_int_equal(fs_unlink_if_exists(p, &e), 0);
	assert_false(fs_exists(p));
	/* a directory cannot be unlinked: reported */
	path(p, sizeof(p), "d");
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(fs_unlink_if_exists(p, &e), -1);
	assert_contains(e.msg, "remove");
	rmdir(p);
}

/* A pid that was a process and is no more: a child that exited and was reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void touch(const char *name)
{
	char p[400];
	mg_err e = {{0}};

	path(p, sizeof(p), name);
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600, &e), 0);
}

static bool present(const char *name)
{
	char p[400];

	path(p, sizeof(p), name);
	struct stat st;
	return lstat(p, &st) == 0;
}

static void test_clean_stale_temps(void **state)
{
	char target[400], n_dead[64], n_dead2[64], n_mine[64], n_other[64], n_dir[64], n_link[64],
	    p[400];
	pid_t dead = dead_pid(), dead2 = dead_pid();
	unsigned removed = 99;
	mg_err e = {{0}};

	(void)state;
	path(target, sizeof(target), "store.json");
	touch("store.json");
	snprintf(n_dead, sizeof(n_dead), "store.json.tmp.%d", (int)dead);
	snprintf(n_dead2, sizeof(n_dead2), "store.json.tmp.%d", (int)dead2);
	snprintf(n_mine, sizeof(n_mine), "store.json.tmp.%d", (int)getpid());
	snprintf(n_other, sizeof(n_other), "other.json.tmp.%d", (int)dead);
	touch(n_dead);                /* a killed writer's: removed */
	touch(n_dead2);               /* another one: removed */
	touch(n_mine);                /* a live writer's (this process): kept */
	touch(n_other);               /* another target's: kept */
	touch("store.json.tmp.12ab"); /* not the pattern: kept */
	touch("store.json.tmp.");
	touch("store.json.tmp.0123");
	touch("store.json.tmp.99999999999");
	touch("xstore.json.tmp.1");
	/* the pattern, a dead pid, but not a regular file: kept, and not followed */
	snprintf(n_dir, sizeof(n_dir), "store.json.tmp.%d", (int)dead + 1000000);
	path(p, sizeof(p), n_dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(n_link, sizeof(n_link), "store.json.tmp.%d", (int)dead + 2000000);
	path(p, sizeof(p), n_link);
	assert_int_equal(symlink(target, p), 0);

	assert_int_equal(fs_clean_stale_temps(target, &removed, &e), 0);
	assert_int_equal(removed, 2);
	assert_false(present(n_dead));
	assert_false(present(n_dead2));
	assert_true(present("store.json"));
	assert_true(present(n_mine));
	assert_true(present(n_other));
	assert_true(present("store.json.tmp.12ab"));
	assert_true(present("store.json.tmp."));
	assert_true(present("store.json.tmp.0123"));
	assert_true(present("store.json.tmp.99999999999"));
	assert_true(present("xstore.json.tmp.1"));
	assert_true(present(n_dir));
	assert_true(present(n_link));
	assert_true(present("store.json")); /* the link's target */
	/* nothing left to do: 0 removed */
	assert_int_equal(fs_clean_stale_temps(target, &removed, &e), 0);
	assert_int_equal(removed, 0);
	/* a directory that does not exist is reported */
	assert_int_equal(fs_clean_stale_temps("/nonexistent-mg/x/store.json", &removed, &e), -1);
	assert_contains(e.msg, "open directory of /nonexistent-mg/x/store.json");
	/* clean up for the other tests */
	path(p, sizeof(p), n_dir);
	rmdir(p);
	const char *rest[] = {n_mine,
			      n_other,
			      n_link,
			      "store.json.tmp.12ab",
			      "store.json.tmp.",
			      "store.json.tmp.0123",
			      "store.json.tmp.99999999999",
			      "xstore.json.tmp.1",
			      "store.json"};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
		path(p, sizeof(p), rest[i]);
		assert_int_equal(unlink(p), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_atomic_mode_and_umask),
	    cmocka_unit_test(test_atomic_replace),
	    cmocka_unit_test(test_atomic_failures),
	    cmocka_unit_test(test_read_bounded),
	    cmocka_unit_test(test_mkdir_p),
	    cmocka_unit_test(test_writable_dir),
	    cmocka_unit_test(test_unlink_if_exists),
	    cmocka_unit_test(test_clean_stale_temps),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
