/* SPDX-License-Identifier: MIT */
/*
 * meshgate doctor's findings: one per check, each with a severity (ok, warn, fail, or
 * skip when the check could not run here), what was found, why it matters and the exact
 * fix. Rendered for people (grouped by severity, failures first) or as JSON; the exit
 * code is the worst severity: 0 ok, 1 warnings, 2 failures.
 */
#ifndef MG_DOC_REPORT_H
#define MG_DOC_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"

enum doc_sev { DOC_OK = 0, DOC_SKIP, DOC_WARN, DOC_FAIL };

/* What `--fix` may repair: only what is meshgate's own. */
enum doc_fix_kind {
	DOC_FIX_NONE = 0,
	DOC_FIX_SYSCTL, /* forwarding on, rp_filter loose: the agent's sysctl apply */
	DOC_FIX_NFT,    /* our table inet meshgate, rebuilt from the last good config */
};

#define DOC_ID_LEN   48
#define DOC_WHAT_LEN 512
#define DOC_WHY_LEN  512
#define DOC_FIX_LEN  768

struct doc_finding {
	enum doc_sev sev;
	char check[24];      /* the group: "host", "firewall", "controller", "path", "cloud" */
	char id[DOC_ID_LEN]; /* stable: "ip-forwarding", "rp-filter"... */
	char what[DOC_WHAT_LEN];
	char why[DOC_WHY_LEN];
	char fix[DOC_FIX_LEN];
	enum doc_fix_kind fixable;
};

struct doc_report {
	struct doc_finding *v;
	size_t n, cap;
	bool oom;
	struct doc_finding scratch; /* handed out when memory ran out: writes go nowhere */
};

void doc_report_free(struct doc_report *r);

/* Append a finding of `check`/`id` saying `what`; never NULL (see scratch). */
struct doc_finding *doc_add(struct doc_report *r, enum doc_sev sev, const char *check,
			    const char *id, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void doc_why(struct doc_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void doc_fix(struct doc_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *doc_sev_name(enum doc_sev s);
size_t doc_count(const struct doc_report *r, enum doc_sev s);
/* 0 when nothing is worse than ok/skip, 1 with warnings, 2 with failures. */
int doc_exit_code(const struct doc_report *r);

/* Human text: a summary line, then FAIL, WARN, OK and SKIP groups. 0 or -1 (memory). */
int doc_render_text(const struct doc_report *r, bool verbose, struct mg_buf *out);
/* {"summary":{"ok":n,"warn":n,"fail":n,"skip":n,"exit_code":n},"findings":[...]}. */
cJSON *doc_render_json(const struct doc_report *r);

#endif
