/* SPDX-License-Identifier: MIT */
/*
 * systemd's notify protocol (sd_notify(3), spoken by notify.c) for `meshgate run` under
 * Type=notify: READY=1 once the first config is fully in place (tunnel, routes,
 * firewall), STATUS= lines for `systemctl status`, WATCHDOG=1 from the event loop and
 * STOPPING=1. Without $NOTIFY_SOCKET every call is a cheap no-op.
 */
#ifndef MG_NOTIFY_H
#define MG_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct notifier {
	bool enabled;     /* $NOTIFY_SOCKET is set */
	bool ready;       /* READY=1 has been sent */
	uint64_t wd_usec; /* WatchdogSec in microseconds, 0 = no watchdog */
	char status[256]; /* the last STATUS= sent (not repeated) */
};

/* Read the environment ($NOTIFY_SOCKET, $WATCHDOG_USEC for this pid). */
void notify_init(struct notifier *n);
/* How often to ping the watchdog, in ms (half its period), or 0 when there is none. */
uint64_t notify_watchdog_interval_ms(const struct notifier *n);
void notify_watchdog(struct notifier *n);
/* STATUS=<text>; unchanged text is not sent again. */
void notify_status(struct notifier *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* READY=1 together with a STATUS= line; only the first call sends anything. */
void notify_ready(struct notifier *n, const char *status);
void notify_stopping(struct notifier *n, const char *status);

#endif
