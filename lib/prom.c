/* SPDX-License-Identifier: MIT */
/* The Prometheus text format writer (prom.h). */
#include "prom.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

static bool alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

bool prom_valid_name(const char *s)
{
	if (!s || !(alpha_(*s) || *s == ':'))
		return false;
	for (s++; *s; s++)
		if (!alpha_(*s) && !digit(*s) && *s != ':')
			return false;
	return true;
}

bool prom_valid_label(const char *s)
{
	if (!s || !alpha_(*s) || !strncmp(s, "__", 2))
		return false;
	for (s++; *s; s++)
		if (!alpha_(*s) && !digit(*s))
			return false;
	return true;
}

static void fail(struct mg_buf *b)
{
	b->failed = true;
}

/* HELP escapes \ and newline; label values also ". */
static void escaped(struct mg_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			mg_buf_add(b, "\\\\");
		else if (*s == '\n')
			mg_buf_add(b, "\\n");
		else if (quote && *s == '"')
			mg_buf_add(b, "\\\"");
		else
			mg_buf_addc(b, *s);
	}
}

void prom_family(struct mg_buf *b, const char *name, const char *type, const char *help)
{
	if (!prom_valid_name(name) ||
	    (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "untyped"))) {
		fail(b);
		return;
	}
	mg_buf_addf(b, "# HELP %s ", name);
	escaped(b, help, false);
	mg_buf_addf(b, "\n# TYPE %s %s\n", name, type);
}

static void value(struct mg_buf *b, double v)
{
	if (isnan(v))
		mg_buf_add(b, "NaN");
	else if (isinf(v))
		mg_buf_add(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		mg_buf_addf(b, "%.0f", v);
	else
		mg_buf_addf(b, "%.17g", v);
}

void prom_sample(struct mg_buf *b, const char *name, double v, ...)
{
	va_list ap;
	const char *k;
	bool first = true;

	if (!prom_valid_name(name)) {
		fail(b);
		return;
	}
	mg_buf_add(b, name);
	va_start(ap, v);
	while ((k = va_arg(ap, const char *))) {
		const char *val = va_arg(ap, const char *);
		if (!prom_valid_label(k) || !val) {
			fail(b);
			break;
		}
		mg_buf_addf(b, "%s%s=\"", first ? "{" : ",", k);
		escaped(b, val, true);
		mg_buf_addc(b, '"');
		first = false;
	}
	va_end(ap);
	if (!first)
		mg_buf_addc(b, '}');
	mg_buf_addc(b, ' ');
	value(b, v);
	mg_buf_addc(b, '\n');
}

void prom_single(struct mg_buf *b, const char *name, const char *type, const char *help, double v)
{
	prom_family(b, name, type, help);
	prom_sample(b, name, v, NULL);
}
