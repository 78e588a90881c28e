/* SPDX-License-Identifier: MIT */
/* An error message carried up the call chain until it becomes one log line. */
#ifndef MG_ERR_H
#define MG_ERR_H

#include <stddef.h>

typedef struct mg_err {
	char msg[512];
} mg_err;

/* Set the message (printf-style). Always returns -1 so callers can `return mg_err_set(...)`. */
int mg_err_set(mg_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the existing message with context: "context: old message". Returns -1. */
int mg_err_prefix(mg_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mg_err_clear(mg_err *e);

#define MG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
