/* SPDX-License-Identifier: MIT */
/* The cloud worker thread on a host that is no cloud VM: hand-over, results through the
 * event fd, the status snapshot (saying "not a cloud VM" once), bounded teardown, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

static char dir[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char p[160];
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mg-cw-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/sys", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sys/class", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sys/class/dmi", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sys/class/dmi/id", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sys/class/dmi/id/sys_vendor", dir);
	write_file(p, "LENOVO\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_no_cloud(void **state)
{
	struct cloud_opts o = {0};
	struct cloudworker *w;
	struct cw_result r;
	struct pollfd pfd;
	mg_err e = {""};
	(void)state;

	snprintf(o.sel.sysfs_root, sizeof(o.sel.sysfs_root), "%s/sys", dir);
	assert_int_equal(cw_start(&w, dir, &o, &e), 0);
	assert_int_equal(cw_read(w, &r), 0); /* nothing yet */
	cJSON *j = cw_status(w);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "state")->valuestring, "not checked yet");
	cJSON_Delete(j);

	struct cidr d;
	assert_int_equal(cidr_parse("192.0.2.0/24", &d, 0, NULL), 0);
	uint64_t g = cw_submit(w, true, &d, 1);
	pfd = (struct pollfd){.fd = cw_event_fd(w), .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(cw_read(w, &r), 1);
	assert_true(r.generation == g);
	assert_true(r.ok);
	assert_int_equal(cw_read(w, &r), 0); /* drained */

	j = cw_status(w);
	const char *st = cJSON_GetObjectItem(j, "state")->valuestring;
	assert_string_equal(cJSON_GetObjectItem(j, "provider")->valuestring, "none");
	/* said once, with the reason: not "not a cloud VM (not a cloud VM (...))" */
	assert_string_equal(st, "not a cloud VM (DMI names no provider)");
	assert_int_equal(count(st, "not a cloud VM"), 1);
	cJSON_Delete(j);

	/* nothing of ours: the teardown is immediate */
	assert_int_equal(cw_teardown(w, 2000, &e), 0);
	/* fencing is a switch the worker reads; stopping joins promptly */
	cw_allow_writes(w, false);
	cw_stop(w);
	cw_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_cloud, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
