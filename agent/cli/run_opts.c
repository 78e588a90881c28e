/* SPDX-License-Identifier: MIT */
/* The settings of `meshgate run`/`down`: one table for the flags and the settings file. */
#include "run_opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "settings.h"
#include "state.h"

static bool valid_ifname(const char *s)
{
	return s[0] && strlen(s) < 16 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static int copy(char *dst, size_t len, const char *v, mg_err *e)
{
	if (strlen(v) >= len)
		return mg_err_set(e, "is longer than %zu characters", len - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int int_in(const char *v, int min, int max, int *out, const char *unit, mg_err *e)
{
	if (cli_parse_int(v, min, max, out) < 0)
		return mg_err_set(e, "is %d..%d%s, not \"%s\"", min, max, unit, v);
	return 0;
}

static int boolean(const char *v, bool *out, mg_err *e)
{
	if (settings_bool(v, out) < 0)
		return mg_err_set(e, "is yes or no, not \"%s\"", v);
	return 0;
}

/* Each setter: `first` is true the first time this source (file or flags) sets it. */
#define SETTER(name) static int name(struct run_settings *s, const char *v, bool first, mg_err *e)

SETTER(set_state_dir)
{
	(void)first;
	if (!v[0])
		return mg_err_set(e, "is a directory, not empty");
	return copy(s->state_dir, sizeof(s->state_dir), v, e);
}

SETTER(set_ifname)
{
	(void)first;
	if (!valid_ifname(v))
		return mg_err_set(e, "is not an interface name: \"%s\"", v);
	return copy(s->o.dp.ifname, sizeof(s->o.dp.ifname), v, e);
}

SETTER(set_wg_mode)
{
	(void)first;
	if (wg_mode_parse(v, &s->o.dp.wg_mode) < 0)
		return mg_err_set(e, "is auto, kernel or userspace, not \"%s\"", v);
	return 0;
}

SETTER(set_wg_bin)
{
	(void)first;
	return copy(s->o.dp.wg_bin, sizeof(s->o.dp.wg_bin), v, e);
}

/* A flag adds one name (repeatable); the file gives a list ("eth1, eth2" or "eth1 eth2"). */
SETTER(set_lan_if)
{
	char buf[SETTINGS_MAX_LINE + 1], *save = NULL, *tok;

	if (first)
		s->o.dp.n_lan_ifs = 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!valid_ifname(tok))
			return mg_err_set(e, "is not an interface name: \"%s\"", tok);
		if (s->o.dp.n_lan_ifs >= DP_MAX_LAN_IFS)
			return mg_err_set(e, "takes at most %d interfaces", DP_MAX_LAN_IFS);
		snprintf(s->o.dp.lan_ifs[s->o.dp.n_lan_ifs++], 16, "%s", tok);
	}
	return 0;
}

SETTER(set_dropin)
{
	(void)first;
	return copy(s->dropin, sizeof(s->dropin), v, e);
}

SETTER(set_mss_clamp)
{
	bool on;
	(void)first;
	if (boolean(v, &on, e) < 0)
		return -1;
	s->o.dp.no_mss_clamp = !on;
	return 0;
}

SETTER(set_open_docker)
{
	(void)first;
	return boolean(v, &s->o.dp.open_docker_user, e);
}

SETTER(set_open_ufw)
{
	(void)first;
	return boolean(v, &s->o.dp.open_ufw, e);
}

/* The cloud selection: parsed by agent/cloud/cloud_select.c, as for `check` and `doctor`. */
#define CLOUD_SETTER(fn, name)                                                                     \
	SETTER(fn)                                                                                 \
	{                                                                                          \
		(void)first;                                                                       \
		return cloud_select_set(&s->o.cloud.sel, name, v, e) < 0 ? -1 : 0;                 \
	}

CLOUD_SETTER(set_cloud, "cloud")
CLOUD_SETTER(set_cloud_meta, "cloud-metadata")
CLOUD_SETTER(set_cloud_api, "cloud-api")
CLOUD_SETTER(set_cloud_ca, "cloud-ca-file")
CLOUD_SETTER(set_cloud_sysfs, "cloud-sysfs")
CLOUD_SETTER(set_cloud_azure_client, "cloud-azure-client-id")

SETTER(set_cloud_takeover)
{
	(void)first;
	return boolean(v, &s->o.cloud.takeover, e);
}

SETTER(set_cloud_gcp_prio)
{
	(void)first;
	if (!v[0]) {
		s->o.cloud.gcp_priority_set = false;
		return 0;
	}
	if (int_in(v, 0, 65535, &s->o.cloud.gcp_priority, "", e) < 0)
		return -1;
	s->o.cloud.gcp_priority_set = true;
	return 0;
}

SETTER(set_cloud_gcp_tags)
{
	(void)first;
	if (strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-,") != strlen(v))
		return mg_err_set(e, "is a comma-separated list of network tags (a-z, 0-9, -)");
	return copy(s->o.cloud.gcp_tags, sizeof(s->o.cloud.gcp_tags), v, e);
}

SETTER(set_cloud_interval)
{
	(void)first;
	return int_in(v, 5, 86400, &s->o.cloud_interval_s, " seconds", e);
}

SETTER(set_cloud_tables)
{
	char buf[SETTINGS_MAX_LINE + 1], *save = NULL, *tok;
	(void)first;

	s->o.cloud.n_tables = 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (s->o.cloud.n_tables >= CM_MAX_TABLES || strlen(tok) >= CLOUD_ID_LEN)
			return mg_err_set(e, "takes at most %d ids of at most %d characters",
					  CM_MAX_TABLES, CLOUD_ID_LEN - 1);
		snprintf(s->o.cloud.tables[s->o.cloud.n_tables++], CLOUD_ID_LEN, "%s", tok);
	}
	return 0;
}

SETTER(set_log_level)
{
	(void)first;
	int lvl = log_level_parse(v);
	if (lvl < 0)
		return mg_err_set(e, "is error, warn, info or debug, not \"%s\"", v);
	s->o.log_level = lvl;
	return 0;
}

SETTER(set_poll_wait)
{
	(void)first;
	return int_in(v, 1, 60, &s->o.poll_wait_s, " seconds", e);
}

SETTER(set_status_interval)
{
	(void)first;
	return int_in(v, 1, 3600, &s->o.status_interval_s, " seconds", e);
}

/* "ADDR:PORT" ("[v6]:PORT"), or "" (off): the address is checked again when bound. */
SETTER(set_metrics_listen)
{
	const char *c = strrchr(v, ':');
	int port;
	(void)first;

	if (v[0] && (!c || c == v || cli_parse_int(c + 1, 1, 65535, &port) < 0))
		return mg_err_set(e, "is ADDRESS:PORT (e.g. 127.0.0.1:9586) or \"\", not \"%s\"",
				  v);
	return copy(s->o.metrics_listen, sizeof(s->o.metrics_listen), v, e);
}

SETTER(set_forget)
{
	(void)first;
	return boolean(v, &s->forget, e);
}

/* The table: flag, short flag, settings key, the value a flag without argument stands
 * for (NULL: the flag takes one), commands, live (SIGHUP applies it), setter. */
struct run_opt {
	const char *flag;
	char short_flag;
	const char *key;
	const char *flag_value;
	unsigned cmds;
	bool live;
	int (*set)(struct run_settings *s, const char *v, bool first, mg_err *e);
};

#define BOTH (RUN_CMD_RUN | RUN_CMD_DOWN)

static const struct run_opt table[] = {
    {"state-dir", 's', "state_dir", NULL, BOTH, false, set_state_dir},
    {"ifname", 'i', "ifname", NULL, BOTH, false, set_ifname},
    {"wg-mode", 0, "wg_mode", NULL, BOTH, false, set_wg_mode},
    {"wg-userspace-bin", 0, "wg_userspace_bin", NULL, BOTH, false, set_wg_bin},
    {"lan-if", 0, "lan_if", NULL, BOTH, false, set_lan_if},
    {"sysctl-dropin", 0, "sysctl_dropin", NULL, BOTH, false, set_dropin},
    {"no-mss-clamp", 0, "mss_clamp", "no", BOTH, false, set_mss_clamp},
    {"open-docker-user", 0, "open_docker_user", "yes", BOTH, false, set_open_docker},
    {"open-ufw", 0, "open_ufw", "yes", BOTH, false, set_open_ufw},
    {"cloud", 0, "cloud", NULL, BOTH, false, set_cloud},
    {"cloud-metadata", 0, "cloud_metadata", NULL, BOTH, false, set_cloud_meta},
    {"cloud-api", 0, "cloud_api", NULL, BOTH, false, set_cloud_api},
    {"cloud-ca-file", 0, "cloud_ca_file", NULL, BOTH, false, set_cloud_ca},
    {"cloud-sysfs", 0, "cloud_sysfs", NULL, BOTH, false, set_cloud_sysfs},
    {"cloud-azure-client-id", 0, "cloud_azure_client_id", NULL, BOTH, false,
     set_cloud_azure_client},
    {"cloud-route-tables", 0, "cloud_route_tables", NULL, BOTH, true, set_cloud_tables},
    {"cloud-takeover", 0, "cloud_takeover", "yes", BOTH, true, set_cloud_takeover},
    {"cloud-interval", 0, "cloud_interval", NULL, BOTH, true, set_cloud_interval},
    {"cloud-gcp-priority", 0, "cloud_gcp_priority", NULL, BOTH, true, set_cloud_gcp_prio},
    {"cloud-gcp-tags", 0, "cloud_gcp_tags", NULL, BOTH, true, set_cloud_gcp_tags},
    {"log-level", 0, "log_level", NULL, BOTH, true, set_log_level},
    {"poll-wait", 0, "poll_wait", NULL, RUN_CMD_RUN, true, set_poll_wait},
    {"status-interval", 0, "status_interval", NULL, RUN_CMD_RUN, true, set_status_interval},
    {"metrics-listen", 0, "metrics_listen", NULL, RUN_CMD_RUN, true, set_metrics_listen},
    {"forget", 0, NULL, "yes", RUN_CMD_DOWN, false, set_forget},
};
_Static_assert(MG_ARRAY_SIZE(table) <= RUN_OPTS_MAX, "raise RUN_OPTS_MAX");

const char run_opts_help[] =
    "  -c, --config FILE          the settings file (default " SETTINGS_PATH_DEFAULT ";\n"
    "                             every option below has a key there; flags win)\n"
    "  -s, --state-dir DIR        state directory (default " STATE_DIR_DEFAULT ")\n"
    "  -i, --ifname NAME          tunnel interface (default: as given to `up`, else mg0)\n"
    "      --wg-mode MODE         auto (kernel WireGuard, else userspace), kernel, or\n"
    "                             userspace (default auto)\n"
    "      --wg-userspace-bin BIN userspace WireGuard program (default wireguard-go)\n"
    "      --lan-if NAME          a LAN interface whose rp_filter is relaxed (repeat for\n"
    "                             several; default: interfaces of the advertised subnets\n"
    "                             and of the default route)\n"
    "      --sysctl-dropin PATH   where the persistent sysctl file goes (default\n"
    "                             " SYSCTL_DROPIN_DEFAULT "; empty string: none)\n"
    "      --no-mss-clamp         do not clamp TCP MSS on the tunnel (on by default)\n"
    "      --open-docker-user     add an accept for tunnel traffic to iptables'\n"
    "                             DOCKER-USER chain (docker's FORWARD policy drop)\n"
    "      --open-ufw             the same in ufw-user-forward (ufw's policy drop)\n"
    "                             (both marked \"meshgate\" and removed by `down`)\n"
    "      --cloud PROVIDER       auto (DMI hints, then a short metadata probe), a\n"
    "                             provider (aws, azure, gcp, oci) or none (default auto)\n"
    "      --cloud-route-tables IDS  comma-separated route tables to manage (default:\n"
    "                             every table of the VPC/VNet; Azure: names or ids)\n"
    "      --cloud-azure-client-id ID  Azure: the user-assigned managed identity to use\n"
    "                             (default: the VM's system-assigned identity)\n"
    "      --cloud-takeover       replace other targets' routes for our destinations\n"
    "                             (blackhole routes are always replaced)\n"
    "      --cloud-interval S     how often VPC routes are re-checked (default 60)\n"
    "      --cloud-gcp-priority N GCP route priority 0..65535 (default 1000)\n"
    "      --cloud-gcp-tags LIST  GCP routes only for instances with these network\n"
    "                             tags (comma-separated; default: every instance)\n"
    "      --cloud-metadata URL, --cloud-api URL, --cloud-ca-file FILE, --cloud-sysfs DIR\n"
    "                             endpoints and trust for partitions, regions and tests\n"
    "      --log-level LEVEL      error, warn, info (default) or debug\n"
    "  -h, --help                 this text\n";

const char run_opts_help_run[] =
    "      --metrics-listen ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
    "                             (e.g. 127.0.0.1:9586; default off)\n"
    "      --poll-wait S          long-poll wait asked of the controller (25)\n"
    "      --status-interval S    status report period (10)\n"
    "Settings file keys: the long flag's name with '_' for '-' (cloud_takeover = yes,\n"
    "lan_if = eth1, eth2); --no-mss-clamp is mss_clamp = no. SIGHUP re-reads the file\n"
    "and applies log_level, metrics_listen, poll_wait, status_interval and the cloud\n"
    "scope (cloud_route_tables, cloud_takeover, cloud_interval, cloud_gcp_*) at once;\n"
    "the others need a restart (the log says which changed).\n";

size_t run_opts_keys(const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < MG_ARRAY_SIZE(table); i++)
		if (table[i].key && n < max)
			out[n++] = table[i].key;
	return n;
}

static void defaults(struct run_settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->state_dir, sizeof(s->state_dir), "%s", STATE_DIR_DEFAULT);
	snprintf(s->dropin, sizeof(s->dropin), "%s", SYSCTL_DROPIN_DEFAULT);
	snprintf(s->config, sizeof(s->config), "%s", SETTINGS_PATH_DEFAULT);
	s->o.state_dir = s->state_dir;
	s->o.poll_wait_s = 25;
	s->o.status_interval_s = 10;
	s->o.backoff_max_s = 60;
	s->o.cloud_interval_s = 60;
	s->o.log_level = -1;
	snprintf(s->o.dp.wg_bin, sizeof(s->o.dp.wg_bin), "wireguard-go");
}

/* After the last source: what is derived from the settings. */
static void finish(struct run_settings *s)
{
	s->o.state_dir = s->state_dir;
	sysctl_ctx_init(&s->o.dp.sysctl, s->state_dir, s->dropin, NULL);
}

void run_settings_free(struct run_settings *s)
{
	for (size_t i = 0; i < RUN_OPTS_MAX; i++) {
		free(s->file_val[i]);
		s->file_val[i] = NULL;
	}
}

struct file_ctx {
	struct run_settings *s;
	unsigned cmds;
};

static int file_line(void *ctx, const struct settings_line *l, mg_err *e)
{
	struct file_ctx *fc = ctx;
	struct run_settings *s = fc->s;
	const char *keys[RUN_OPTS_MAX], *hint;
	size_t i, n;

	for (i = 0; i < MG_ARRAY_SIZE(table); i++)
		if (table[i].key && !strcmp(table[i].key, l->key))
			break;
	if (i == MG_ARRAY_SIZE(table)) {
		n = run_opts_keys(keys, MG_ARRAY_SIZE(keys));
		hint = settings_suggest(l->key, keys, n);
		if (hint)
			return mg_err_set(e, "unknown key \"%s\" (did you mean \"%s\"?)", l->key,
					  hint);
		return mg_err_set(e, "unknown key \"%s\" (see meshgate(8), SETTINGS FILE)", l->key);
	}
	if (s->file_val[i])
		return mg_err_set(e, "%s is set twice (first on line %d)", l->key, s->file_line[i]);
	s->file_val[i] = strdup(l->value);
	if (!s->file_val[i])
		return mg_err_set(e, "out of memory");
	s->file_line[i] = l->line;
	if (table[i].set(s, l->value, true, e) < 0) {
		mg_err tmp = *e;
		return mg_err_set(e, "%s %s", l->key, tmp.msg);
	}
	return 0;
}

static int load_file(struct run_settings *s, const char *path, bool missing_ok, mg_err *e)
{
	struct file_ctx fc = {s, BOTH};
	int r;

	if (path != s->config)
		snprintf(s->config, sizeof(s->config), "%s", path);
	r = settings_load(s->config, missing_ok, file_line, &fc, e);
	s->have_file = r == 0;
	return r;
}

int run_settings_load_file(struct run_settings *s, const char *path, bool missing_ok, mg_err *e)
{
	int r;

	defaults(s);
	r = load_file(s, path, missing_ok, e);
	finish(s);
	return r;
}

int run_settings_load_text(struct run_settings *s, const char *text, size_t len, const char *path,
			   mg_err *e)
{
	struct file_ctx fc = {s, BOTH};
	int r;

	defaults(s);
	snprintf(s->config, sizeof(s->config), "%s", path);
	r = settings_parse(text, len, path, file_line, &fc, e);
	s->have_file = r == 0;
	finish(s);
	return r;
}

int run_settings_from_argv(struct run_settings *s, int argc, char **argv, enum run_cmd cmd)
{
	struct option lo[RUN_OPTS_MAX + 3];
	char shorts[2 * RUN_OPTS_MAX + 8] = "c:h";
	struct {
		int idx;
		const char *arg;
	} seen[256];
	bool touched[RUN_OPTS_MAX] = {false};
	const char *name = cmd == RUN_CMD_DOWN ? "down" : "run";
	size_t n = 0, n_seen = 0, sl = strlen(shorts);
	mg_err e = {""};
	int c;

	defaults(s);
	for (size_t i = 0; i < MG_ARRAY_SIZE(table); i++) {
		lo[n++] = (struct option){table[i].flag,
					  table[i].flag_value ? no_argument : required_argument,
					  NULL, 1000 + (int)i};
		if (table[i].short_flag) {
			shorts[sl++] = table[i].short_flag;
			shorts[sl++] = ':';
		}
	}
	shorts[sl] = '\0';
	lo[n++] = (struct option){"config", required_argument, NULL, 'c'};
	lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
	lo[n] = (struct option){NULL, 0, NULL, 0};

	/* first the flags are only collected: the file (--config) comes before them */
	optind = 0;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		int idx = -1;
		if (c == 'h')
			return 1;
		if (c == 'c') {
			snprintf(s->config, sizeof(s->config), "%s", optarg);
			s->config_given = true;
			continue;
		}
		if (c >= 1000 && c < 1000 + (int)MG_ARRAY_SIZE(table))
			idx = c - 1000;
		for (size_t i = 0; idx < 0 && i < MG_ARRAY_SIZE(table); i++)
			if (table[i].short_flag && table[i].short_flag == c)
				idx = (int)i;
		if (idx < 0)
			return -1; /* getopt said why */
		if (!(table[idx].cmds & cmd)) {
			fprintf(stderr, "meshgate %s: --%s does not go with %s\n", name,
				table[idx].flag, name);
			return -1;
		}
		if (n_seen >= MG_ARRAY_SIZE(seen)) {
			fprintf(stderr, "meshgate %s: too many options\n", name);
			return -1;
		}
		seen[n_seen].idx = idx;
		seen[n_seen++].arg = table[idx].flag_value ? table[idx].flag_value : optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "meshgate %s: unexpected argument \"%s\"\n", name, argv[optind]);
		return -1;
	}
	if (load_file(s, s->config, !s->config_given, &e) < 0) {
		fprintf(stderr, "meshgate %s: %s\n", name, e.msg);
		return -1;
	}
	for (size_t i = 0; i < n_seen; i++) {
		const struct run_opt *o = &table[seen[i].idx];
		if (o->set(s, seen[i].arg, !touched[seen[i].idx], &e) < 0) {
			fprintf(stderr, "meshgate %s: --%s %s\n", name, o->flag, e.msg);
			return -1;
		}
		touched[seen[i].idx] = true;
		s->flag_set[seen[i].idx] = true;
	}
	finish(s);
	return 0;
}

/* For SIGHUP: the keys whose file value differs between a and b, and whether each is
 * applied live. */
void run_settings_diff(const struct run_settings *a, const struct run_settings *b,
		       void (*cb)(void *ctx, const char *key, bool live), void *ctx)
{
	for (size_t i = 0; i < MG_ARRAY_SIZE(table); i++) {
		const char *x = a->file_val[i], *y = b->file_val[i];
		if (!table[i].key || b->flag_set[i] || (!x && !y) || (x && y && !strcmp(x, y)))
			continue;
		cb(ctx, table[i].key, table[i].live);
	}
}
