/* SPDX-License-Identifier: MIT */
/*
 * meshgate doctor: check everything known to break a connector and say, for each
 * problem, what is wrong, why it matters and the exact fix. Read-only unless --fix.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "doc.h"
#include "log.h"
#include "sysctl.h"

static void doctor_usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: meshgate doctor [options]\n\n"
	    "Checks everything known to break a connector and, for each problem, says what is\n"
	    "wrong, why it matters and the exact fix. It changes nothing unless --fix is given.\n\n"
	    "Checks (finding ids in brackets):\n"
	    "  agent       enrolled [enrolled], a config applied [config], running [running]\n"
	    "  host        IPv4/IPv6 forwarding on [ip-forwarding, ipv6-forwarding]; a\n"
	    "              sysctl.d file read after ours that turns it off at boot\n"
	    "              [sysctl-override]; strict rp_filter on the tunnel or a LAN\n"
	    "              interface [rp-filter]\n"
	    "  firewall    other nftables tables (iptables-nft included) whose forward or\n"
	    "              postrouting chains drop the mesh: docker's FORWARD policy DROP, ufw,\n"
	    "              firewalld, any drop/reject rule [foreign-policy, foreign-rule];\n"
	    "              iptables-legacy tables [iptables-legacy]; our table inet meshgate\n"
	    "              [table]\n"
	    "  controller  reachable, the pinned key, our credentials [reachable, pin,\n"
	    "              credentials]; clock skew against the controller's Date header\n"
	    "              [clock]; the last WireGuard handshake with the hub [handshake]\n"
	    "  path        the way back from the LAN: does the LAN router route the mesh here\n"
	    "              (option 1) or is NAT on (option 2) [route-back]; path MTU to the hub\n"
	    "              through the tunnel, DF echoes of decreasing size [mtu]; our TCP MSS\n"
	    "              clamp rule [mss-clamp]\n"
	    "  cloud       on a cloud VM: AWS source/destination check, Azure NIC IP\n"
	    "              forwarding, GCP canIpForward, OCI skipSourceDestCheck [forwarding];\n"
	    "              the permissions to read them and the route tables, named when\n"
	    "              missing [permission]\n\n"
	    "Options:\n"
	    "  -s, --state-dir DIR      agent state (default " STATE_DIR_DEFAULT ")\n"
	    "  -i, --ifname NAME        the tunnel (default: the enrolled one, mg0)\n"
	    "      --lan-if NAME        a LAN interface (repeatable; default: every interface\n"
	    "                           with a global address)\n"
	    "  -j, --json               one JSON object: summary and findings\n"
	    "  -v, --verbose            why and fix for ok findings too\n"
	    "      --fix                repair what is meshgate's own, then check again:\n"
	    "                           forwarding and rp_filter (loose) the way the agent sets\n"
	    "                           them (prior values recorded, the drop-in written) and\n"
	    "                           our table inet meshgate (from the last good config).\n"
	    "                           Never another table, file or cloud setting.\n"
	    "      --timeout MS         each network probe (default 2000)\n"
	    "      --handshake-max-age S  a handshake older is stale (default %d)\n"
	    "      --sysctl-dropin FILE our drop-in (default " SYSCTL_DROPIN_DEFAULT ")\n"
	    "      --sysctl-dirs LIST   sysctl.d directories in order of precedence (default\n"
	    "                           " DOC_SYSCTL_DIRS ")\n"
	    "      --sysctl-conf FILE   read after them (default /etc/sysctl.conf)\n"
	    "      --no-mss-clamp, --open-docker-user, --open-ufw\n"
	    "                           as given to `meshgate run` (used by --fix)\n"
	    "      --cloud auto|none|PROVIDER  (default auto: detect)\n"
	    "      --cloud-metadata URL, --cloud-api URL, --cloud-ca-file FILE,\n"
	    "      --cloud-sysfs DIR, --cloud-azure-client-id ID   as for `meshgate run`\n"
	    "  -h, --help               this text\n\n"
	    "Exit codes: 0 nothing wrong, 1 warnings only, 2 at least one failure (also a bad\n"
	    "command line, with a message and no report).\n",
	    DOC_HANDSHAKE_MAX);
}

enum {
	OPT_FIX = 1000,
	OPT_LAN_IF,
	OPT_TIMEOUT,
	OPT_HS_AGE,
	OPT_DROPIN,
	OPT_DIRS,
	OPT_CONF,
	OPT_NO_MSS,
	OPT_OPEN_DOCKER,
	OPT_OPEN_UFW,
	OPT_CLOUD,
};

/* All checks; with `fix`, repair what they found of ours. True when a repair ran. */
static bool run_checks(const struct doc_opts *o, struct doc_report *r, bool fix)
{
	struct doc_ctx c;
	unsigned kinds = 0;

	doc_ctx_load(&c, o, r);
	doc_check_agent(&c);
	doc_check_host(&c);
	doc_check_firewall(&c);
	doc_check_controller(&c);
	doc_check_path(&c);
	doc_check_cloud(&c);
	if (fix) {
		for (size_t i = 0; i < r->n; i++)
			if (r->v[i].sev >= DOC_WARN)
				kinds |= 1u << r->v[i].fixable;
		mg_err e = {""};
		if ((kinds & (1u << DOC_FIX_SYSCTL)) && doc_fix_sysctl(&c, &e) < 0)
			fprintf(stderr, "meshgate doctor --fix: %s\n", e.msg);
		if ((kinds & (1u << DOC_FIX_NFT)) && doc_fix_nft(&c, &e) < 0)
			fprintf(stderr, "meshgate doctor --fix: %s\n", e.msg);
		if (!(kinds & ~1u) && doc_exit_code(r))
			fprintf(stderr, "meshgate doctor --fix: nothing of ours to repair\n");
	}
	doc_ctx_free(&c);
	return (kinds & ~1u) != 0;
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"ifname", required_argument, NULL, 'i'},
	    {"lan-if", required_argument, NULL, OPT_LAN_IF},
	    {"json", no_argument, NULL, 'j'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"fix", no_argument, NULL, OPT_FIX},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"handshake-max-age", required_argument, NULL, OPT_HS_AGE},
	    {"sysctl-dropin", required_argument, NULL, OPT_DROPIN},
	    {"sysctl-dirs", required_argument, NULL, OPT_DIRS},
	    {"sysctl-conf", required_argument, NULL, OPT_CONF},
	    {"no-mss-clamp", no_argument, NULL, OPT_NO_MSS},
	    {"open-docker-user", no_argument, NULL, OPT_OPEN_DOCKER},
	    {"open-ufw", no_argument, NULL, OPT_OPEN_UFW},
	    CLI_CLOUD_SELECT_OPTS(OPT_CLOUD),
	    {"help", no_argument, NULL, 'h'},
	    {0, 0, 0, 0},
	};
	struct doc_opts o = {
	    .state_dir = STATE_DIR_DEFAULT,
	    .sysctl_dirs = DOC_SYSCTL_DIRS,
	    .sysctl_conf = "/etc/sysctl.conf",
	    .dropin = SYSCTL_DROPIN_DEFAULT,
	    .procroot = "/proc/sys",
	    .timeout_ms = 2000,
	    .handshake_max_age = DOC_HANDSHAKE_MAX,
	};
	struct doc_report r = {0};
	bool json = false, verbose = false;
	int ch, li = 0, v, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:i:jvh", opts, &li)) != -1) {
		switch (ch) {
		case 's':
			o.state_dir = optarg;
			break;
		case 'i':
			if (!optarg[0] || strlen(optarg) >= sizeof(o.ifname)) {
				fprintf(stderr, "meshgate doctor: --ifname is 1..15 characters\n");
				return EXIT_USAGE;
			}
			snprintf(o.ifname, sizeof(o.ifname), "%s", optarg);
			break;
		case OPT_LAN_IF:
			if (!optarg[0] || strlen(optarg) >= sizeof(o.lan_ifs[0]) ||
			    strchr(optarg, '/') || o.n_lan_ifs >= DOC_MAX_LAN_IFS) {
				fprintf(stderr, "meshgate doctor: --lan-if: an interface name (at "
						"most 8)\n");
				return EXIT_USAGE;
			}
			snprintf(o.lan_ifs[o.n_lan_ifs++], sizeof(o.lan_ifs[0]), "%s", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case OPT_FIX:
			o.fix = true;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_int(optarg, 100, 60000, &v) < 0) {
				fprintf(stderr, "meshgate doctor: --timeout is 100..60000 ms\n");
				return EXIT_USAGE;
			}
			o.timeout_ms = v;
			break;
		case OPT_HS_AGE:
			if (cli_parse_int(optarg, 1, 86400, &o.handshake_max_age) < 0) {
				fprintf(stderr,
					"meshgate doctor: --handshake-max-age is 1..86400 s\n");
				return EXIT_USAGE;
			}
			break;
		case OPT_DROPIN:
			o.dropin = optarg;
			break;
		case OPT_DIRS:
			o.sysctl_dirs = optarg;
			break;
		case OPT_CONF:
			o.sysctl_conf = optarg;
			break;
		case OPT_NO_MSS:
			o.no_mss_clamp = true;
			break;
		case OPT_OPEN_DOCKER:
			o.open_docker_user = true;
			break;
		case OPT_OPEN_UFW:
			o.open_ufw = true;
			break;
		case OPT_CLOUD:
			if (cli_cloud_select_opt("doctor", &o.cloud, opts[li].name, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			doctor_usage(stdout);
			return EXIT_OK;
		default:
			doctor_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgate doctor: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	/* the checks' own errors are findings: keep library log lines off the report */
	log_set_level(json ? MG_LOG_ERR : MG_LOG_WARN);
	if (run_checks(&o, &r, o.fix)) {
		/* report the host as the repairs left it */
		doc_report_free(&r);
		run_checks(&o, &r, false);
	}
	if (json) {
		cJSON *j = doc_render_json(&r);
		char *t = j ? cJSON_Print(j) : NULL;
		if (t)
			printf("%s\n", t);
		else
			fprintf(stderr, "meshgate doctor: out of memory\n");
		cJSON_free(t);
		cJSON_Delete(j);
	} else {
		struct mg_buf b = {0};
		if (doc_render_text(&r, verbose, &b) < 0)
			fprintf(stderr, "meshgate doctor: out of memory\n");
		else
			fputs(b.p, stdout);
		mg_buf_free(&b);
	}
	rc = doc_exit_code(&r);
	doc_report_free(&r);
	return rc;
}
