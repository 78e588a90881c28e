/* SPDX-License-Identifier: MIT */
/*
 * systemd notify protocol: readiness, status, watchdog (see notify.h). The protocol is
 * small and documented as stable (sd_notify(3), "the notification protocol"): one
 * datagram of newline-separated VAR=value lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, a path or, starting with '@', an abstract name. It is spoken here
 * rather than linking libsystemd, which maps a dozen libraries (gcrypt, compression) into
 * the agent for these few lines.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* 0, or -errno. */
static int notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = path ? strlen(path) : 0;
	ssize_t sent;
	int fd, err;

	if (!len)
		return 0;
	if ((path[0] != '/' && path[0] != '@') || len < 2 || len >= sizeof(sa.sun_path))
		return -EAFNOSUPPORT; /* not a socket this implementation speaks to */
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace: no terminating NUL counted */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
		      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	err = sent < 0 ? -errno : (size_t)sent != strlen(state) ? -EMSGSIZE : 0;
	close(fd);
	return err;
}

/* $WATCHDOG_USEC, when $WATCHDOG_PID is unset or names this process; else 0. */
static uint64_t watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!us || !*us)
		return 0;
	if (pid && *pid) {
		long p = strtol(pid, &end, 10);
		if (*end || p != (long)getpid())
			return 0;
	}
	errno = 0;
	v = strtoull(us, &end, 10);
	if (errno || *end || us[0] == '-')
		return 0;
	return (uint64_t)v;
}

static void send_state(struct notifier *n, const char *state)
{
	int r;

	if (!n->enabled)
		return;
	r = notify_send(state);
	if (r < 0)
		log_warn("systemd notify (%.*s): %s", (int)strcspn(state, "\n"), state,
			 strerror(-r));
}

void notify_init(struct notifier *n)
{
	const char *s = getenv("NOTIFY_SOCKET");

	memset(n, 0, sizeof(*n));
	n->enabled = s && *s;
	/* > 0 only when $WATCHDOG_USEC is set and $WATCHDOG_PID, if set, is us */
	if (n->enabled)
		n->wd_usec = watchdog_usec();
}

uint64_t notify_watchdog_interval_ms(const struct notifier *n)
{
	if (!n->enabled || !n->wd_usec)
		return 0;
	/* ping twice per period, never more often than every 100 ms */
	return n->wd_usec / 2000 > 100 ? n->wd_usec / 2000 : 100;
}

void notify_watchdog(struct notifier *n)
{
	if (n->wd_usec)
		send_state(n, "WATCHDOG=1");
}

static void set_status(struct notifier *n, const char *prefix, const char *text)
{
	char msg[300];

	/* one line: systemd shows STATUS= verbatim */
	snprintf(n->status, sizeof(n->status), "%.*s", (int)strcspn(text, "\n"), text);
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, n->status);
	send_state(n, msg);
}

void notify_status(struct notifier *n, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	if (!n->enabled)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	text[strcspn(text, "\n")] = '\0';
	if (!strcmp(text, n->status))
		return;
	set_status(n, "", text);
}

void notify_ready(struct notifier *n, const char *status)
{
	if (!n->enabled || n->ready)
		return;
	n->ready = true;
	set_status(n, "READY=1\n", status);
}

void notify_stopping(struct notifier *n, const char *status)
{
	set_status(n, "STOPPING=1\n", status);
}
