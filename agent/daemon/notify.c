/* SPDX-License-Identifier: MIT */
/* systemd notify protocol: readiness, status, watchdog (see notify.h). */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"

static void send_state(struct notifier *n, const char *state)
{
	int r;

	if (!n->enabled)
		return;
	r = sd_notify(0, state);
	if (r < 0)
		log_warn("systemd notify (%.*s): %s", (int)strcspn(state, "\n"), state,
			 strerror(-r));
}

void notify_init(struct notifier *n)
{
	uint64_t usec = 0;
	const char *s = getenv("NOTIFY_SOCKET");

	memset(n, 0, sizeof(*n));
	n->enabled = s && *s;
	/* > 0 only when $WATCHDOG_USEC is set and $WATCHDOG_PID, if set, is us */
	if (n->enabled && sd_watchdog_enabled(0, &usec) > 0)
		n->wd_usec = usec;
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
