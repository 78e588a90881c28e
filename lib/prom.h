/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text exposition format (version 0.0.4), written into a growable buffer:
 * one `# HELP` and `# TYPE` per family, then its samples. HELP text and label values are
 * escaped (\\, \n, and \" in label values); names are checked against the format's
 * grammar (a bad one fails the buffer: a programming error, not input).
 */
#ifndef MG_PROM_H
#define MG_PROM_H

#include "buf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* type: "counter", "gauge" or "untyped". */
void prom_family(struct mg_buf *b, const char *name, const char *type, const char *help);

/* One sample: name{k1="v1",...} value. The labels are (key, value) string pairs ending
 * in NULL. */
void prom_sample(struct mg_buf *b, const char *name, double value, ...) __attribute__((sentinel));

/* A whole family of one unlabelled sample. */
void prom_single(struct mg_buf *b, const char *name, const char *type, const char *help,
		 double value);

/* Grammar checks (exposed for tests). */
bool prom_valid_name(const char *s);
bool prom_valid_label(const char *s);

#endif
