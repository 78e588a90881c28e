/* SPDX-License-Identifier: MIT */
/* The agent's own sd_notify: datagrams to a path or abstract $NOTIFY_SOCKET, the
 * watchdog period only for this pid, nothing at all without a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "notify.h"

/* A datagram socket bound at `name` ("@..." abstract). */
static int sink(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
			 0);
	return fd;
}

static void expect_msg(int fd, const char *want)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void run(const char *name)
{
	struct notifier n;
	char env[64];
	int fd = sink(name);

	setenv("NOTIFY_SOCKET", name, 1);
	snprintf(env, sizeof(env), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", env, 1);
	setenv("WATCHDOG_USEC", "2000000", 1);
	notify_init(&n);
	assert_true(n.enabled);
	assert_int_equal(notify_watchdog_interval_ms(&n), 1000);
	notify_ready(&n, "up\nsecond line dropped");
	expect_msg(fd, "READY=1\nSTATUS=up");
	notify_ready(&n, "again"); /* only once */
	notify_watchdog(&n);
	expect_msg(fd, "WATCHDOG=1");
	notify_status(&n, "%d routes", 7);
	expect_msg(fd, "STATUS=7 routes");
	notify_status(&n, "%d routes", 7); /* unchanged: not sent */
	notify_stopping(&n, "bye");
	expect_msg(fd, "STOPPING=1\nSTATUS=bye");
	close(fd);
	if (name[0] == '/')
		unlink(name);
}

static void test_path_socket(void **state)
{
	char name[64];

	(void)state;
	snprintf(name, sizeof(name), "/tmp/mg-notify-test.%ld", (long)getpid());
	run(name);
}

static void test_abstract_socket(void **state)
{
	char name[64];

	(void)state;
	snprintf(name, sizeof(name), "@mg-notify-test.%ld", (long)getpid());
	run(name);
}

static void test_watchdog_other_pid(void **state)
{
	struct notifier n;

	(void)state;
	setenv("NOTIFY_SOCKET", "@mg-notify-none", 1);
	setenv("WATCHDOG_USEC", "2000000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	notify_init(&n);
	assert_int_equal(notify_watchdog_interval_ms(&n), 0);
	setenv("WATCHDOG_PID", "", 1);
	setenv("WATCHDOG_USEC", "bogus", 1);
	notify_init(&n);
	assert_int_equal(notify_watchdog_interval_ms(&n), 0);
}

static void test_disabled(void **state)
{
	struct notifier n;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "2000000", 1);
	unsetenv("WATCHDOG_PID");
	notify_init(&n);
	assert_false(n.enabled);
	assert_int_equal(notify_watchdog_interval_ms(&n), 0);
	notify_ready(&n, "x"); /* no socket: nothing, no error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_socket),
	    cmocka_unit_test(test_abstract_socket),
	    cmocka_unit_test(test_watchdog_other_pid),
	    cmocka_unit_test(test_disabled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
