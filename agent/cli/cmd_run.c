/* SPDX-License-Identifier: MIT */
/* meshgate run / meshgate down */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ctlc.h"
#include "daemon.h"
#include "fsutil.h"
#include "log.h"
#include "run_opts.h"
#include "state.h"
#include "status.h"

static bool valid_ifname(const char *s)
{
	return s[0] && strlen(s) < 16 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* The tunnel the identity in `dir` was enrolled with (`up --ifname`), else mg0. */
static void ifname_from_state(const char *dir, char ifname[16])
{
	struct agent_state st;
	mg_err e = {""};

	if (state_load(dir, &st, &e) == 0 && st.ifname[0])
		snprintf(ifname, 16, "%s", st.ifname);
	else
		snprintf(ifname, 16, "%s", DP_IFNAME_DEFAULT);
	state_wipe(&st);
}

/* SIGHUP: the settings file again, then the same flags. */
struct reload_ctx {
	int argc;
	char **argv;
	struct run_settings *last;  /* the settings in force */
	struct run_settings *first; /* what daemon_run was started with (kept) */
};

static void log_changed(void *ctx, const char *key, bool live)
{
	const char *path = ctx;
	if (live)
		log_info("settings: %s changed in %s: applied", key, path);
	else
		log_warn("settings: %s changed in %s: needs a restart (systemctl restart "
			 "meshgate); the running value stays",
			 key, path);
}

static int reload_settings(void *vctx, struct daemon_opts *fresh, mg_err *e)
{
	struct reload_ctx *rc = vctx;
	struct run_settings *n = calloc(1, sizeof(*n));
	char **argv;

	if (!n)
		return mg_err_set(e, "out of memory");
	/* getopt permutes argv: parse a copy of the pointers */
	argv = calloc((size_t)rc->argc + 1, sizeof(*argv));
	if (!argv) {
		free(n);
		return mg_err_set(e, "out of memory");
	}
	memcpy(argv, rc->argv, (size_t)rc->argc * sizeof(*argv));
	int r = run_settings_from_argv(n, rc->argc, argv, RUN_CMD_RUN);
	free(argv);
	if (r != 0) {
		run_settings_free(n);
		free(n);
		return mg_err_set(e, "settings not reloaded (the error is above); the running "
				     "ones stay");
	}
	run_settings_diff(rc->last, n, log_changed, n->config);
	*fresh = n->o;
	if (rc->last != rc->first) {
		run_settings_free(rc->last);
		free(rc->last);
	}
	rc->last = n;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_settings s;
	struct reload_ctx rc = {.argc = argc};
	int r, rcode;

	rc.argv = calloc((size_t)argc + 1, sizeof(*rc.argv));
	if (!rc.argv) {
		fprintf(stderr, "meshgate run: out of memory\n");
		return EXIT_FAIL;
	}
	memcpy(rc.argv, argv, (size_t)argc * sizeof(*argv));
	ctlc_claim_identity(true); /* the daemon holds the identity for this host (ctlc.h) */
	r = run_settings_from_argv(&s, argc, argv, RUN_CMD_RUN);
	if (r != 0) {
		FILE *f = r > 0 ? stdout : stderr;
		fprintf(
		    f,
		    "Usage: meshgate run [options]\n\n"
		    "Runs the agent in the foreground (the systemd service runs this): applies\n"
		    "the last good config at once, then follows the controller (long-poll),\n"
		    "applying each change within a second without resetting the tunnel,\n"
		    "repairs drift (deleted routes or tunnel, forwarding turned off) and\n"
		    "reports status. SIGTERM removes the tunnel and its routes; sysctls stay\n"
		    "until `meshgate down`. SIGHUP re-reads the settings file. Exits 3 after\n"
		    "the controller revoked this connector (everything meshgate made is\n"
		    "removed first).\n"
		    "Under systemd (meshgate.service, Type=notify) it sends READY=1 once the\n"
		    "first config is fully in place (tunnel, routes, firewall), STATUS= lines\n"
		    "for `systemctl status`, and watchdog pings when WatchdogSec= is set.\n\n"
		    "Options:\n%s%s",
		    run_opts_help, run_opts_help_run);
		run_settings_free(&s);
		free(rc.argv);
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	}
	rc.first = rc.last = &s;
	s.o.reload = reload_settings;
	s.o.reload_ctx = &rc;
	log_init("meshgate", s.o.log_level >= 0 ? (enum mg_log_level)s.o.log_level : MG_LOG_INFO);
	if (s.have_file)
		log_info("settings from %s", s.config);
	rcode = daemon_run(&s.o);
	if (rc.last != rc.first) {
		run_settings_free(rc.last);
		free(rc.last);
	}
	run_settings_free(&s);
	free(rc.argv);
	return rcode;
}

int cmd_down(int argc, char **argv)
{
	struct run_settings s;
	struct daemon_opts o;
	struct dataplane *dp = NULL;
	bool forget;
	mg_err e = {""};
	int r = run_settings_from_argv(&s, argc, argv, RUN_CMD_DOWN), lockfd, rc = EXIT_OK;

	o = s.o;
	forget = s.forget;
	run_settings_free(&s);
	if (r == 0 && s.o.log_level >= 0)
		log_set_level((enum mg_log_level)s.o.log_level);

	if (r != 0) {
		FILE *f = r > 0 ? stdout : stderr;
		fprintf(f,
			"Usage: meshgate down [options]\n\n"
			"Removes what meshgate made on this host: the tunnel, its routes, its\n"
			"nftables table (and its marked accepts in DOCKER-USER/ufw), the\n"
			"sysctl drop-in, and puts each sysctl back to its recorded value where it\n"
			"still holds the value meshgate wrote. Safe to run twice. The identity\n"
			"stays unless --forget is given.\n\n"
			"Options:\n%s"
			"      --forget               also delete the identity (device secret,\n"
			"                             private key, last config): the next `up`\n"
			"                             enrols afresh\n"
			"The settings file's keys (see meshgate(8)) apply to down too.\n",
			run_opts_help);
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	}
	if (!fs_exists(o.state_dir)) {
		printf("Nothing to do: no state directory %s.\n", o.state_dir);
		return EXIT_OK;
	}
	lockfd = state_lock(o.state_dir, &e);
	if (lockfd < 0) {
		fprintf(stderr, "meshgate down: %s\n", e.msg);
		return EXIT_FAIL;
	}
	if (!o.dp.ifname[0])
		ifname_from_state(o.state_dir, o.dp.ifname);
	/* who we are, for providers whose rules carry an ownership marker (OCI) */
	if (state_enrolled(o.state_dir)) {
		struct agent_state st;
		memset(&st, 0, sizeof(st));
		mg_err se = {""};
		if (state_load(o.state_dir, &st, &se) == 0) {
			snprintf(o.cloud.mesh.network, sizeof(o.cloud.mesh.network), "%s",
				 st.network_id);
			snprintf(o.cloud.mesh.connector, sizeof(o.cloud.mesh.connector), "%s",
				 st.device_id);
		}
		state_wipe(&st);
	}
	if (dp_open(&dp, &o.dp, &e) < 0) {
		fprintf(stderr, "meshgate down: %s\n", e.msg);
		close(lockfd);
		return EXIT_FAIL;
	}
	if (daemon_teardown(&o, dp, NULL, TEARDOWN_ALL, &e) < 0) {
		fprintf(stderr, "meshgate down: %s\n", e.msg);
		rc = EXIT_FAIL;
	}
	dp_close(dp);
	if (rc == EXIT_OK) {
		char p[4096];
		state_path(o.state_dir, "config.json", p, sizeof(p), NULL);
		fs_unlink_if_exists(p, NULL);
		if (forget) {
			static const char *files[] = {"device.json", "private.key", "status.json"};
			for (size_t i = 0; i < MG_ARRAY_SIZE(files); i++) {
				state_path(o.state_dir, files[i], p, sizeof(p), NULL);
				if (fs_unlink_if_exists(p, &e) < 0) {
					fprintf(stderr, "meshgate down: %s\n", e.msg);
					rc = EXIT_FAIL;
				}
			}
		} else {
			struct status_file *sf = status_open(o.state_dir);
			status_set_daemon(sf, "down", NULL);
			status_set_applied(sf, -1);
			status_close(sf);
		}
		printf("meshgate is down: tunnel %s and its routes removed, sysctls restored%s.\n",
		       o.dp.ifname, forget ? ", identity forgotten" : "");
	}
	close(lockfd);
	return rc;
}

/* The daemon's last recorded state in status.json ("" when unknown). */
static void last_daemon_state(const char *dir, char *out, size_t len)
{
	mg_err e = {""};
	cJSON *s = state_load_status(dir, &e);
	const cJSON *d = s ? cJSON_GetObjectItemCaseSensitive(s, "daemon") : NULL;
	const cJSON *st = d ? cJSON_GetObjectItemCaseSensitive(d, "state") : NULL;

	snprintf(out, len, "%s", cJSON_IsString(st) ? st->valuestring : "");
	cJSON_Delete(s);
}

static void cleanup_usage(FILE *f)
{
	fprintf(f, "Usage: meshgate cleanup [options]\n\n"
		   "What the systemd unit runs after the daemon stopped (ExecStopPost): when\n"
		   "`meshgate run` did not stop cleanly (a crash, SIGKILL, the watchdog), it\n"
		   "removes the tunnel, its routes and the nftables table inet meshgate that the\n"
		   "daemon left behind, so no half-configured router stays. Sysctls, the sysctl\n"
		   "drop-in and cloud routes stay, as after a clean stop (`meshgate down` removes\n"
		   "everything). After a clean stop there is nothing to do and it says so.\n"
		   "Refuses while a meshgate daemon holds the state lock.\n\n"
		   "Options:\n"
		   "  -s, --state-dir DIR        state directory (default " STATE_DIR_DEFAULT ")\n"
		   "  -i, --ifname NAME          tunnel interface (default: from the state, "
		   "else " DP_IFNAME_DEFAULT ")\n"
		   "  -h, --help                 this text\n");
}

int cmd_cleanup(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"ifname", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct dp_opts dpo = {.wg_mode = WG_MODE_AUTO};
	const char *dir = STATE_DIR_DEFAULT;
	struct dataplane *dp = NULL;
	char last[32];
	mg_err e = {""};
	int c, lockfd, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "s:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		case 'i':
			if (!valid_ifname(optarg)) {
				fprintf(stderr, "meshgate cleanup: bad interface name \"%s\"\n",
					optarg);
				return EXIT_USAGE;
			}
			snprintf(dpo.ifname, sizeof(dpo.ifname), "%s", optarg);
			break;
		case 'h':
			cleanup_usage(stdout);
			return EXIT_OK;
		default:
			cleanup_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgate cleanup: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!fs_exists(dir) || !state_enrolled(dir)) {
		printf("Nothing to clean up: not enrolled (no identity in %s).\n", dir);
		return EXIT_OK;
	}
	lockfd = state_lock(dir, &e);
	if (lockfd < 0) {
		fprintf(stderr, "meshgate cleanup: %s\n", e.msg);
		return EXIT_FAIL;
	}
	last_daemon_state(dir, last, sizeof(last));
	if (!strcmp(last, "stopped") || !strcmp(last, "down") || !last[0]) {
		printf("Nothing to clean up: the daemon %s.\n",
		       last[0] ? "stopped cleanly" : "never ran");
		close(lockfd);
		return EXIT_OK;
	}
	if (!dpo.ifname[0])
		ifname_from_state(dir, dpo.ifname);
	log_warn("the daemon did not stop cleanly (last state \"%s\"): removing the tunnel %s, "
		 "its routes and the firewall table it left",
		 last, dpo.ifname);
	struct daemon_opts o = {.state_dir = dir, .dp = dpo};
	if (dp_open(&dp, &dpo, &e) < 0 || daemon_teardown(&o, dp, NULL, TEARDOWN_TUNNEL, &e) < 0) {
		fprintf(stderr, "meshgate cleanup: %s\n", e.msg);
		rc = EXIT_FAIL;
	} else {
		struct status_file *sf = status_open(dir);
		status_set_daemon(sf, "stopped", NULL);
		status_close(sf);
		printf("Cleaned up after an unclean stop: tunnel %s, its routes and the firewall "
		       "table removed (sysctls and cloud routes stay).\n",
		       dpo.ifname);
	}
	if (dp)
		dp_close(dp);
	close(lockfd);
	return rc;
}
