/* SPDX-License-Identifier: MIT */
/*
 * meshgate doctor: the checks of everything known to break a connector, each adding
 * findings to one report (doc_report.h). Read-only; the fixes (doc_fix_*) run only on
 * `--fix` and only touch what is meshgate's own.
 */
#ifndef MG_DOC_H
#define MG_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "cloud_select.h"
#include "config.h"
#include "doc_report.h"
#include "state.h"

#define DOC_MAX_LAN_IFS 8
#define DOC_SYSCTL_DIRS                                                                            \
	"/etc/sysctl.d:/run/sysctl.d:/usr/local/lib/sysctl.d:/usr/lib/sysctl.d:/lib/sysctl.d"
#define DOC_HANDSHAKE_MAX 180 /* seconds: keepalives renew it every 2 minutes */
#define DOC_SKEW_WARN     30  /* seconds */
#define DOC_SKEW_FAIL     300 /* SigV4 and most cloud signatures refuse 5 minutes */

struct doc_opts {
	const char *state_dir;
	char ifname[16]; /* "" = the enrolled one (default mg0) */
	char lan_ifs[DOC_MAX_LAN_IFS][16];
	size_t n_lan_ifs;
	const char *sysctl_dirs; /* colon-separated, in systemd-sysctl's order of precedence */
	const char *sysctl_conf; /* /etc/sysctl.conf, read last */
	const char *dropin;      /* ours: /etc/sysctl.d/90-meshgate.conf */
	const char *procroot;    /* /proc/sys */
	long timeout_ms;         /* each network probe */
	int handshake_max_age;   /* seconds */
	bool fix;
	bool no_mss_clamp, open_docker_user, open_ufw; /* as `meshgate run` has them */
	/* cloud */
	struct cloud_select cloud;
};

/* What the checks share: the identity, the last good config, the daemon's status. */
struct doc_ctx {
	const struct doc_opts *o;
	struct doc_report *r;
	bool enrolled;
	bool state_denied; /* the state directory is not ours to read (not root) */
	struct agent_state st;
	bool have_config;
	struct mg_config cfg;
	bool agent_running; /* status.json names a live pid in state "running" */
	/* the agent's last error when the controller refused it as a copy (identity_in_use):
	 * doctor's own requests claim no identity (ctlc.h), the daemon's do */
	char identity_error[512];
	char ifname[16];
	const char *lan[DOC_MAX_LAN_IFS];
	char lan_names[DOC_MAX_LAN_IFS][16];
	size_t n_lan;
};

int doc_ctx_load(struct doc_ctx *c, const struct doc_opts *o, struct doc_report *r);
void doc_ctx_free(struct doc_ctx *c);

void doc_check_agent(struct doc_ctx *c);
void doc_check_host(struct doc_ctx *c);
void doc_check_firewall(struct doc_ctx *c);
void doc_check_controller(struct doc_ctx *c);
void doc_check_path(struct doc_ctx *c);
void doc_check_cloud(struct doc_ctx *c);

/* --fix: repair what `kind` names; a line per repair into `log`. 0 or -1 with e. */
int doc_fix_sysctl(struct doc_ctx *c, mg_err *e);
int doc_fix_nft(struct doc_ctx *c, mg_err *e);

/* ---- pure helpers, exposed for unit tests and the fuzzer ---- */

/*
 * One sysctl.d file's text: the value its last line assigns to `key` (dotted or slashed
 * form; patterns with '*' in the file are matched too), into val. 1 found, 0 not.
 */
int doc_sysctl_text_value(const char *text, size_t len, const char *key, char *val, size_t vlen,
			  int *line);

/*
 * Which file systemd-sysctl (and then sysctl.conf) would make decide `key` at boot:
 * files by name across `dirs` (a name in an earlier dir hides the same name in later
 * ones), in lexical order, the last assignment wins. 1 found (file, value, line), 0 none.
 */
int doc_sysctl_boot_value(const char *dirs, const char *conf, const char *key, char *file,
			  size_t flen, char *val, size_t vlen, int *line);

/* The clock offset (seconds, server minus local) from an HTTP Date header value. */
int doc_http_date_skew(const char *date, long long local_now, long long *skew);

#endif
