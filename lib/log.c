/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Logging configuration is process-wide by nature (like syslog's openlog). */
static struct {
	char prog[32];
	enum mg_log_level level;
} log_cfg = {"meshgate", MG_LOG_INFO};

void log_init(const char *prog, enum mg_log_level level)
{
	snprintf(log_cfg.prog, sizeof(log_cfg.prog), "%s", prog ? prog : "meshgate");
	log_cfg.level = level;
}

void log_set_level(enum mg_log_level level)
{
	log_cfg.level = level;
}

enum mg_log_level log_get_level(void)
{
	return log_cfg.level;
}

int log_level_parse(const char *s)
{
	static const char *names[] = {"error", "warn", "info", "debug"};

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

void log_msg(enum mg_log_level level, const char *fmt, ...)
{
	static const char *tags[] = {"error", "warn", "info", "debug"};
	char line[2048], ts[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (level > log_cfg.level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%d] %s: ", ts, (long)(tv.tv_usec / 1000),
		     log_cfg.prog, (int)getpid(), tags[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line so concurrent writers do not interleave mid-line */
	size_t len = strlen(line);
	for (size_t i = (size_t)n; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (len + 1 < sizeof(line)) {
		line[len++] = '\n';
		line[len] = '\0';
	}
	if (write(STDERR_FILENO, line, len) < 0) {
		/* nowhere left to report it */
	}
}
