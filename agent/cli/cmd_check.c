/* SPDX-License-Identifier: MIT */
/*
 * meshgate check: a preflight an installer or an admin runs before enrolling or
 * starting the service. Each check prints one line (ok / FAIL / skip and why);
 * exit 0 when none failed. It changes nothing on the host.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check_cloud.h"
#include "cli.h"
#include "connstr.h"
#include "ctlc.h"
#include "dataplane.h"
#include "nft.h"
#include "run_opts.h"
#include "settings.h"
#include "state.h"
#include "wgkey.h"

#define CAP_NET_ADMIN_BIT 12

enum verdict { V_OK, V_FAIL, V_SKIP };

struct check {
	const char *name;
	enum verdict v;
	char detail[512];
};

static void set(struct check *c, const char *name, enum verdict v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set(struct check *c, const char *name, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	c->name = name;
	c->v = v;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

/* CAP_NET_ADMIN in the effective set (root has it unless a bounding set took it). */
static void check_privileges(struct check *c)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long eff = 0;
	bool found = false;

	if (!f) {
		set(c, "privileges", V_FAIL, "cannot read /proc/self/status: %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = true;
			break;
		}
	fclose(f);
	if (!found)
		set(c, "privileges", V_FAIL, "no CapEff line in /proc/self/status");
	else if (eff & (1ULL << CAP_NET_ADMIN_BIT))
		set(c, "privileges", V_OK, "CAP_NET_ADMIN held (uid %u)", (unsigned)geteuid());
	else
		set(c, "privileges", V_FAIL,
		    "CAP_NET_ADMIN missing: run as root (sudo meshgate "
		    "check)");
}

static void check_nftables(struct check *c)
{
	struct nft_ctx *n = NULL;
	mg_err e = {""};
	int r;

	if (nft_open(&n, &e) < 0) {
		set(c, "nftables", V_FAIL, "%s (the kernel needs nf_tables: CONFIG_NF_TABLES)",
		    e.msg);
		return;
	}
	r = nft_table_present(n, &e);
	nft_close(n);
	if (r < 0)
		set(c, "nftables", V_FAIL, "nf_tables did not answer: %s", e.msg);
	else
		set(c, "nftables", V_OK, "nf_tables answers (table inet meshgate %s)",
		    r ? "present" : "not created yet");
}

/* Does a modules list name wireguard.ko? (modules.dep / modules.builtin) */
static bool module_listed(const char *release, const char *list)
{
	char p[512], *line = NULL;
	size_t cap = 0;
	bool hit = false;
	FILE *f;

	snprintf(p, sizeof(p), "/lib/modules/%s/%s", release, list);
	f = fopen(p, "re");
	if (!f)
		return false;
	while (!hit && getline(&line, &cap, f) > 0) {
		char *colon = strchr(line, ':');
		if (colon)
			*colon = '\0';
		hit = strstr(line, "/wireguard.ko") != NULL;
	}
	free(line);
	fclose(f);
	return hit;
}

/* Full path of `bin` (searched in $PATH unless it has a '/'), or false. */
static bool find_program(const char *bin, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096], *save = NULL, *d;

	if (strchr(bin, '/')) {
		snprintf(out, len, "%s", bin);
		return access(bin, X_OK) == 0;
	}
	snprintf(dirs, sizeof(dirs), "%s", path && *path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", d, bin);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

static void check_wireguard(struct check *c, enum wg_mode mode, const char *bin)
{
	struct utsname u;
	char prog[1024];
	bool loaded = access("/sys/module/wireguard", F_OK) == 0, kernel = loaded;
	bool tun = access("/dev/net/tun", R_OK | W_OK) == 0;
	bool have_prog = find_program(bin, prog, sizeof(prog));

	if (!kernel && uname(&u) == 0)
		kernel = module_listed(u.release, "modules.builtin") ||
			 module_listed(u.release, "modules.dep");
	if (mode == WG_MODE_KERNEL || (mode == WG_MODE_AUTO && kernel)) {
		if (kernel)
			set(c, "wireguard", V_OK, "kernel module %s",
			    loaded ? "loaded" : "available");
		else
			set(c, "wireguard", V_FAIL,
			    "no kernel WireGuard module (--wg-mode auto "
			    "would use the userspace program)");
		return;
	}
	if (have_prog && tun)
		set(c, "wireguard", V_OK, "userspace: %s with /dev/net/tun%s", prog,
		    mode == WG_MODE_AUTO ? " (no kernel module)" : "");
	else if (!have_prog)
		set(c, "wireguard", V_FAIL, "%sno userspace program \"%s\" (install wireguard-go)",
		    mode == WG_MODE_AUTO ? "no kernel module and " : "", bin);
	else
		set(c, "wireguard", V_FAIL, "%s%s found but /dev/net/tun is not usable",
		    mode == WG_MODE_AUTO ? "no kernel module; " : "", prog);
}

/*
 * Reach the controller over HTTPS with the pin enforced in the TLS handshake. With an
 * identity, its credentials are tried too; with only a connection string, an anonymous
 * config request must be refused with our controller's own 401 (the enrolment token is
 * single-use: it is not spent here).
 */
static void check_controller(struct check *c, const struct ctlc_target *t, const char *secret,
			     long timeout_ms)
{
	mg_err e = {""};
	char *json = NULL;
	size_t len = 0;
	enum ctlc_result res = ctlc_fetch_config(t, secret, 0, timeout_ms, &json, &len, &e);

	free(json);
	if (res == CTLC_OK && secret)
		set(c, "controller", V_OK,
		    "%s reachable, pin verified, this connector's "
		    "credentials accepted",
		    t->url);
	else if (res == CTLC_ERR_CREDENTIALS && !secret)
		set(c, "controller", V_OK, "%s reachable, pin verified", t->url);
	else if (res == CTLC_ERR_REVOKED)
		set(c, "controller", V_FAIL,
		    "%s revoked this connector: run `meshgate "
		    "down --forget`, then enrol with a new "
		    "connection string",
		    t->url);
	else if (res == CTLC_ERR_REFUSED || res == CTLC_ERR_PROTOCOL || res == CTLC_OK ||
		 res == CTLC_ERR_CREDENTIALS)
		set(c, "controller", V_FAIL, "%s answered %s (is this a meshgate controller?)",
		    t->url, res == CTLC_OK ? "a config to an anonymous request" : e.msg);
	else
		set(c, "controller", V_FAIL, "%s", e.msg);
}

/* The settings file: parsed with the daemon's own table (so `check` and `run` agree). */
static void check_settings(struct check *c, const char *path)
{
	struct run_settings s;
	mg_err e = {""};
	size_t n = 0;

	int r = run_settings_load_file(&s, path ? path : SETTINGS_PATH_DEFAULT, !path, &e);
	for (size_t i = 0; i < RUN_OPTS_MAX; i++)
		n += s.file_val[i] != NULL;
	if (r < 0)
		set(c, "settings", V_FAIL, "%s", e.msg);
	else if (r > 0)
		set(c, "settings", V_SKIP, "no %s (the defaults apply)", SETTINGS_PATH_DEFAULT);
	else
		set(c, "settings", V_OK, "%s: %zu setting%s, all valid", s.config, n,
		    n == 1 ? "" : "s");
	run_settings_free(&s);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: meshgate check [options]\n\n"
		"Preflight before enrolling or starting the service; changes nothing. Checks:\n"
		"  privileges  CAP_NET_ADMIN (root)\n"
		"  nftables    the kernel's nf_tables answers\n"
		"  wireguard   the kernel module, else the userspace program and /dev/net/tun\n"
		"  controller  HTTPS to the controller with the pin enforced; with an identity,\n"
		"              its credentials too (the enrolment token is not spent)\n"
		"  cloud       on a cloud VM: the provider, this VM's identity, and whether the\n"
		"              cloud forwards for it (AWS source/destination check, Azure\n"
		"              enableIPForwarding, GCP canIpForward, OCI skipSourceDestCheck)\n"
		"  settings    the settings file (--config, else " SETTINGS_PATH_DEFAULT "\n"
		"              when it exists): every key known, every value valid; a\n"
		"              failure names FILE:LINE and the key\n"
		"The controller comes from --connect/--connect-file, else from the identity in\n"
		"the state directory (skipped when there is neither).\n"
		"Prints one line per check; exits 0 when none failed, 1 otherwise.\n\n"
		"Options:\n"
		"  -c, --connect STRING       a connection string (prefer --connect-file)\n"
		"  -f, --connect-file FILE    read it from FILE ('-' = stdin)\n"
		"  -s, --state-dir DIR        state directory (default " STATE_DIR_DEFAULT ")\n"
		"      --ca-file FILE         also verify the controller's certificate chain\n"
		"      --wg-mode MODE         auto (default), kernel or userspace\n"
		"      --wg-userspace-bin BIN userspace WireGuard program (default wireguard-go)\n"
		"      --timeout SECONDS      limit for the controller request (1..60, default 5)\n"
		"      --cloud PROVIDER       auto (default), none, or %s\n"
		"      --cloud-metadata URL, --cloud-api URL, --cloud-ca-file FILE,\n"
		"      --cloud-sysfs DIR, --cloud-azure-client-id ID   as for run\n"
		"      --json                 one JSON object instead of lines\n"
		"      --config FILE          the settings file to validate\n"
		"      --only-config          only that check (for scripts, after an edit)\n"
		"  -h, --help                 this text\n",
		cloud_provider_names());
}

enum {
	OPT_CA = 256,
	OPT_WG_MODE,
	OPT_WG_BIN,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_CLOUD,
	OPT_CONFIG,
	OPT_ONLY_CONFIG
};

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"connect", required_argument, NULL, 'c'},
	    {"connect-file", required_argument, NULL, 'f'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"ca-file", required_argument, NULL, OPT_CA},
	    {"wg-mode", required_argument, NULL, OPT_WG_MODE},
	    {"wg-userspace-bin", required_argument, NULL, OPT_WG_BIN},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"only-config", no_argument, NULL, OPT_ONLY_CONFIG},
	    CLI_CLOUD_SELECT_OPTS(OPT_CLOUD),
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = STATE_DIR_DEFAULT, *file = NULL, *ca = NULL, *bin = "wireguard-go";
	char connect[CONNSTR_MAX + 64] = "";
	bool have_connect = false, json = false, only_config = false;
	const char *config = NULL;
	enum wg_mode mode = WG_MODE_AUTO;
	int timeout_s = 5;
	struct check ck[6]; /* settings, privileges, nftables, wireguard, controller, cloud */
	struct check_cloud_opts cloud = {.sel.provider = "auto", .timeout_ms = 20000};
	size_t n = 0;
	mg_err e = {""};
	int c, li = 0, failed = 0;

	while ((c = getopt_long(argc, argv, "c:f:s:h", opts, &li)) != -1) {
		switch (c) {
		case 'c':
			snprintf(connect, sizeof(connect), "%s", optarg);
			cli_scrub_arg(optarg);
			have_connect = true;
			break;
		case 'f':
			file = optarg;
			break;
		case 's':
			dir = optarg;
			break;
		case OPT_CA:
			ca = optarg;
			break;
		case OPT_WG_MODE:
			if (wg_mode_parse(optarg, &mode) < 0) {
				fprintf(stderr, "meshgate check: --wg-mode is auto, kernel or "
						"userspace\n");
				return EXIT_USAGE;
			}
			break;
		case OPT_WG_BIN:
			bin = optarg;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_int(optarg, 1, 60, &timeout_s) < 0) {
				fprintf(stderr, "meshgate check: --timeout is 1..60 seconds\n");
				return EXIT_USAGE;
			}
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_ONLY_CONFIG:
			only_config = true;
			break;
		case OPT_CLOUD:
			if (cli_cloud_select_opt("check", &cloud.sel, opts[li].name, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgate check: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (file && have_connect) {
		fprintf(stderr, "meshgate check: give --connect or --connect-file, not both\n");
		return EXIT_USAGE;
	}

	check_settings(&ck[n++], config);
	if (only_config)
		goto report;
	check_privileges(&ck[n++]);
	check_nftables(&ck[n++]);
	check_wireguard(&ck[n++], mode, bin);

	struct check *cc = &ck[n++];
	if (file && cli_read_connect_file(file, connect, sizeof(connect), &e) < 0) {
		set(cc, "controller", V_FAIL, "%s", e.msg);
	} else if (have_connect || file) {
		struct connstr cs;
		if (connstr_parse(connect, &cs, &e) < 0) {
			set(cc, "controller", V_FAIL, "%s", e.msg);
		} else {
			struct ctlc_target t = {0};
			snprintf(t.url, sizeof(t.url), "%s", cs.url);
			snprintf(t.pin, sizeof(t.pin), "%s", cs.pin);
			if (ca)
				snprintf(t.ca_file, sizeof(t.ca_file), "%s", ca);
			check_controller(cc, &t, NULL, (long)timeout_s * 1000);
		}
		wgkey_wipe(&cs, sizeof(cs));
	} else if (state_enrolled(dir)) {
		struct agent_state st;
		if (state_load(dir, &st, &e) < 0) {
			set(cc, "controller", V_FAIL, "%s", e.msg);
		} else {
			if (ca)
				snprintf(st.target.ca_file, sizeof(st.target.ca_file), "%s", ca);
			check_controller(cc, &st.target, st.secret, (long)timeout_s * 1000);
		}
		state_wipe(&st);
	} else {
		set(cc, "controller", V_SKIP, "no connection string given and not enrolled in %s",
		    dir);
	}

	struct check *cl = &ck[n++];
	enum check_cloud_verdict cv = check_cloud(&cloud, cl->detail, sizeof(cl->detail));
	cl->name = "cloud";
	cl->v = cv == CHECK_CLOUD_OK ? V_OK : cv == CHECK_CLOUD_FAIL ? V_FAIL : V_SKIP;
report:
	wgkey_wipe(connect, sizeof(connect));
	for (size_t i = 0; i < n; i++)
		failed += ck[i].v == V_FAIL;
	if (json) {
		cJSON *o = cJSON_CreateObject(), *a = NULL;
		char *s;
		if (o && cJSON_AddBoolToObject(o, "ok", failed == 0))
			a = cJSON_AddArrayToObject(o, "checks");
		if (!a) {
			cJSON_Delete(o);
			fprintf(stderr, "meshgate check: out of memory\n");
			return EXIT_FAIL;
		}
		for (size_t i = 0; i < n; i++) {
			cJSON *it = cJSON_CreateObject();
			if (!it)
				continue;
			cJSON_AddStringToObject(it, "name", ck[i].name);
			cJSON_AddStringToObject(it, "result",
						ck[i].v == V_OK     ? "ok"
						: ck[i].v == V_FAIL ? "fail"
								    : "skip");
			cJSON_AddStringToObject(it, "detail", ck[i].detail);
			cJSON_AddItemToArray(a, it);
		}
		s = cJSON_Print(o);
		if (s)
			printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%-4s  %-10s  %s\n",
			       ck[i].v == V_OK     ? "ok"
			       : ck[i].v == V_FAIL ? "FAIL"
						   : "skip",
			       ck[i].name, ck[i].detail);
	}
	return failed ? EXIT_FAIL : EXIT_OK;
}
