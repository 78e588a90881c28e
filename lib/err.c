/* SPDX-License-Identifier: MIT */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mg_err_set(mg_err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int mg_err_prefix(mg_err *e, const char *fmt, ...)
{
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* truncation keeps the start of the message, which carries the context */
	int n = snprintf(e->msg, sizeof(e->msg), "%s: ", prefix);
	if (n > 0 && (size_t)n < sizeof(e->msg)) {
		size_t room = sizeof(e->msg) - (size_t)n - 1;
		size_t len = strnlen(old, room);
		memcpy(e->msg + n, old, len);
		e->msg[(size_t)n + len] = '\0';
	}
	return -1;
}

void mg_err_clear(mg_err *e)
{
	if (e)
		e->msg[0] = '\0';
}
