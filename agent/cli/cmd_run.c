/* SPDX-License-Identifier: MIT */
/* meshgate run / meshgate down */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "fsutil.h"
#include "log.h"
#include "state.h"
#include "status.h"

enum {
	OPT_WG_MODE = 256,
	OPT_WG_BIN,
	OPT_SYSCTL_DROPIN,
	OPT_LAN_IF,
	OPT_POLL_WAIT,
	OPT_STATUS_INTERVAL,
	OPT_FORGET,
	OPT_LOG_LEVEL,
	OPT_NO_MSS,
	OPT_OPEN_DOCKER,
	OPT_OPEN_UFW,
	OPT_CLOUD,
	OPT_CLOUD_META,
	OPT_CLOUD_API,
	OPT_CLOUD_CA,
	OPT_CLOUD_TABLES,
	OPT_CLOUD_TAKEOVER,
	OPT_CLOUD_SYSFS,
	OPT_CLOUD_INTERVAL,
	OPT_CLOUD_GCP_PRIO,
	OPT_CLOUD_GCP_TAGS,
	OPT_CLOUD_AZURE_CLIENT,
};

static const char dp_help[] =
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

static const struct option dp_opts_long[] = {
    {"state-dir", required_argument, NULL, 's'},
    {"ifname", required_argument, NULL, 'i'},
    {"wg-mode", required_argument, NULL, OPT_WG_MODE},
    {"wg-userspace-bin", required_argument, NULL, OPT_WG_BIN},
    {"lan-if", required_argument, NULL, OPT_LAN_IF},
    {"sysctl-dropin", required_argument, NULL, OPT_SYSCTL_DROPIN},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"poll-wait", required_argument, NULL, OPT_POLL_WAIT},
    {"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
    {"forget", no_argument, NULL, OPT_FORGET},
    {"no-mss-clamp", no_argument, NULL, OPT_NO_MSS},
    {"open-docker-user", no_argument, NULL, OPT_OPEN_DOCKER},
    {"open-ufw", no_argument, NULL, OPT_OPEN_UFW},
    {"cloud", required_argument, NULL, OPT_CLOUD},
    {"cloud-metadata", required_argument, NULL, OPT_CLOUD_META},
    {"cloud-api", required_argument, NULL, OPT_CLOUD_API},
    {"cloud-ca-file", required_argument, NULL, OPT_CLOUD_CA},
    {"cloud-route-tables", required_argument, NULL, OPT_CLOUD_TABLES},
    {"cloud-takeover", no_argument, NULL, OPT_CLOUD_TAKEOVER},
    {"cloud-sysfs", required_argument, NULL, OPT_CLOUD_SYSFS},
    {"cloud-interval", required_argument, NULL, OPT_CLOUD_INTERVAL},
    {"cloud-gcp-priority", required_argument, NULL, OPT_CLOUD_GCP_PRIO},
    {"cloud-gcp-tags", required_argument, NULL, OPT_CLOUD_GCP_TAGS},
    {"cloud-azure-client-id", required_argument, NULL, OPT_CLOUD_AZURE_CLIENT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

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

/* Parse the options shared by run and down; returns -1 on a usage error, 1 for --help. */
static int parse_dp_opts(int argc, char **argv, const char *cmd, struct daemon_opts *o,
			 bool *forget)
{
	const char *dropin = SYSCTL_DROPIN_DEFAULT;
	int c, lvl;

	memset(o, 0, sizeof(*o));
	o->state_dir = STATE_DIR_DEFAULT;
	o->poll_wait_s = 25;
	o->status_interval_s = 10;
	o->backoff_max_s = 60;
	o->cloud_interval_s = 60;
	snprintf(o->dp.wg_bin, sizeof(o->dp.wg_bin), "wireguard-go");
	while ((c = getopt_long(argc, argv, "s:i:h", dp_opts_long, NULL)) != -1) {
		switch (c) {
		case 's':
			o->state_dir = optarg;
			break;
		case 'i':
			if (!valid_ifname(optarg)) {
				fprintf(stderr, "meshgate %s: bad interface name \"%s\"\n", cmd,
					optarg);
				return -1;
			}
			snprintf(o->dp.ifname, sizeof(o->dp.ifname), "%s", optarg);
			break;
		case OPT_WG_MODE:
			if (wg_mode_parse(optarg, &o->dp.wg_mode) < 0) {
				fprintf(stderr,
					"meshgate %s: --wg-mode is auto, kernel or userspace\n",
					cmd);
				return -1;
			}
			break;
		case OPT_WG_BIN:
			snprintf(o->dp.wg_bin, sizeof(o->dp.wg_bin), "%s", optarg);
			break;
		case OPT_LAN_IF:
			if (!valid_ifname(optarg) || o->dp.n_lan_ifs >= DP_MAX_LAN_IFS) {
				fprintf(stderr, "meshgate %s: bad or too many --lan-if (max %d)\n",
					cmd, DP_MAX_LAN_IFS);
				return -1;
			}
			snprintf(o->dp.lan_ifs[o->dp.n_lan_ifs++], 16, "%s", optarg);
			break;
		case OPT_SYSCTL_DROPIN:
			dropin = optarg;
			break;
		case OPT_LOG_LEVEL:
			lvl = log_level_parse(optarg);
			if (lvl < 0) {
				fprintf(stderr,
					"meshgate %s: --log-level is error, warn, info or "
					"debug\n",
					cmd);
				return -1;
			}
			log_set_level((enum mg_log_level)lvl);
			break;
		case OPT_POLL_WAIT:
			if (cli_parse_int(optarg, 1, 60, &o->poll_wait_s) < 0) {
				fprintf(stderr, "meshgate %s: --poll-wait is 1..60 seconds\n", cmd);
				return -1;
			}
			break;
		case OPT_STATUS_INTERVAL:
			if (cli_parse_int(optarg, 1, 3600, &o->status_interval_s) < 0) {
				fprintf(stderr, "meshgate %s: --status-interval is 1..3600 s\n",
					cmd);
				return -1;
			}
			break;
		case OPT_FORGET:
			if (!forget) {
				fprintf(stderr, "meshgate %s: --forget only goes with down\n", cmd);
				return -1;
			}
			*forget = true;
			break;
		case OPT_CLOUD:
			if (strcmp(optarg, "auto") && strcmp(optarg, "none") &&
			    !cloud_provider_by_name(optarg)) {
				fprintf(stderr,
					"meshgate %s: --cloud is auto, none or a provider: %s\n",
					cmd, cloud_provider_names());
				return -1;
			}
			snprintf(o->cloud.provider, sizeof(o->cloud.provider), "%s", optarg);
			break;
		case OPT_CLOUD_META:
			snprintf(o->cloud.ep.metadata, sizeof(o->cloud.ep.metadata), "%s", optarg);
			break;
		case OPT_CLOUD_API:
			snprintf(o->cloud.ep.api, sizeof(o->cloud.ep.api), "%s", optarg);
			break;
		case OPT_CLOUD_CA:
			snprintf(o->cloud.ep.ca_file, sizeof(o->cloud.ep.ca_file), "%s", optarg);
			break;
		case OPT_CLOUD_AZURE_CLIENT:
			if (!optarg[0] || strlen(optarg) >= sizeof(o->cloud.ep.identity) ||
			    strspn(optarg, "0123456789abcdefABCDEF-") != strlen(optarg)) {
				fprintf(stderr,
					"meshgate %s: --cloud-azure-client-id is a client id "
					"(GUID)\n",
					cmd);
				return -1;
			}
			snprintf(o->cloud.ep.identity, sizeof(o->cloud.ep.identity), "%s", optarg);
			break;
		case OPT_CLOUD_SYSFS:
			snprintf(o->cloud.sysfs_root, sizeof(o->cloud.sysfs_root), "%s", optarg);
			break;
		case OPT_CLOUD_TAKEOVER:
			o->cloud.takeover = true;
			break;
		case OPT_CLOUD_GCP_PRIO: {
			int v;
			if (cli_parse_int(optarg, 0, 65535, &v) < 0) {
				fprintf(stderr, "meshgate %s: --cloud-gcp-priority is 0..65535\n",
					cmd);
				return -1;
			}
			o->cloud.gcp_priority = v;
			o->cloud.gcp_priority_set = true;
			break;
		}
		case OPT_CLOUD_GCP_TAGS:
			if (strlen(optarg) >= sizeof(o->cloud.gcp_tags) ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-,") !=
				strlen(optarg)) {
				fprintf(stderr,
					"meshgate %s: --cloud-gcp-tags is a comma-separated "
					"list of network tags (a-z, 0-9, -)\n",
					cmd);
				return -1;
			}
			snprintf(o->cloud.gcp_tags, sizeof(o->cloud.gcp_tags), "%s", optarg);
			break;
		case OPT_CLOUD_INTERVAL:
			if (cli_parse_int(optarg, 5, 86400, &o->cloud_interval_s) < 0) {
				fprintf(stderr, "meshgate %s: --cloud-interval is 5..86400 s\n",
					cmd);
				return -1;
			}
			break;
		case OPT_CLOUD_TABLES: {
			char buf[CM_MAX_TABLES * 64], *save = NULL, *tok;
			snprintf(buf, sizeof(buf), "%s", optarg);
			o->cloud.n_tables = 0;
			for (tok = strtok_r(buf, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (o->cloud.n_tables >= CM_MAX_TABLES || !*tok ||
				    strlen(tok) >= CLOUD_ID_LEN) {
					fprintf(stderr,
						"meshgate %s: --cloud-route-tables: at most %d "
						"ids\n",
						cmd, CM_MAX_TABLES);
					return -1;
				}
				snprintf(o->cloud.tables[o->cloud.n_tables++], CLOUD_ID_LEN, "%s",
					 tok);
			}
			break;
		}
		case OPT_NO_MSS:
			o->dp.no_mss_clamp = true;
			break;
		case OPT_OPEN_DOCKER:
			o->dp.open_docker_user = true;
			break;
		case OPT_OPEN_UFW:
			o->dp.open_ufw = true;
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgate %s: unexpected argument \"%s\"\n", cmd, argv[optind]);
		return -1;
	}
	sysctl_ctx_init(&o->dp.sysctl, o->state_dir, dropin, NULL);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct daemon_opts o;
	int r = parse_dp_opts(argc, argv, "run", &o, NULL);

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
		    "until `meshgate down`. Exits 3 after the controller revoked this\n"
		    "connector (everything meshgate made is removed first).\n"
		    "Under systemd (meshgate.service, Type=notify) it sends READY=1 once the\n"
		    "first config is fully in place (tunnel, routes, firewall), STATUS= lines\n"
		    "for `systemctl status`, and watchdog pings when WatchdogSec= is set.\n\n"
		    "Options:\n%s"
		    "      --poll-wait S          long-poll wait asked of the controller (25)\n"
		    "      --status-interval S    status report period (10)\n",
		    dp_help);
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	}
	log_init("meshgate", log_get_level());
	return daemon_run(&o);
}

int cmd_down(int argc, char **argv)
{
	struct daemon_opts o;
	struct dataplane *dp = NULL;
	bool forget = false;
	mg_err e = {""};
	int r = parse_dp_opts(argc, argv, "down", &o, &forget), lockfd, rc = EXIT_OK;

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
			"                             enrols afresh\n",
			dp_help);
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
