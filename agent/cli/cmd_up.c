/* SPDX-License-Identifier: MIT */
/* meshgate up: enrol (once) and fetch the config. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "connstr.h"
#include "ctlc.h"
#include "enroll.h"
#include "fsutil.h"
#include "log.h"
#include "state.h"
#include "status.h"

static void up_usage(FILE *f)
{
	fprintf(f,
		"Usage: meshgate up (--connect STRING | --connect-file FILE) [options]\n\n"
		"Enrols this host with the controller named in the connection string, then\n"
		"fetches its config and prints a summary. The WireGuard key pair is made here;\n"
		"the private key never leaves this host. With an identity already in the state\n"
		"directory, `up` re-uses it and never enrols again.\n\n"
		"Options:\n"
		"  -c, --connect STRING     the connection string (mg1:...) from the controller;\n"
		"                           it holds a single-use token: prefer --connect-file\n"
		"  -f, --connect-file FILE  read the connection string from FILE ('-' = stdin)\n"
		"  -s, --state-dir DIR      state directory (default " STATE_DIR_DEFAULT ")\n"
		"  -i, --ifname NAME        tunnel interface name to use later (default mg0)\n"
		"      --ca-file FILE       also verify the controller's certificate chain\n"
		"  -v, --verbose            debug logging\n"
		"  -h, --help               this text\n");
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"connect", required_argument, NULL, 'c'},
	    {"connect-file", required_argument, NULL, 'f'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"ifname", required_argument, NULL, 'i'},
	    {"ca-file", required_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *state_dir = STATE_DIR_DEFAULT, *file = NULL, *ifname = NULL, *ca = NULL;
	char connect[CONNSTR_MAX + 64] = "";
	bool have_connect = false;
	struct agent_state st;
	struct connstr cs;
	mg_err e = {""};
	int c, rc = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "c:f:s:i:vh", opts, NULL)) != -1) {
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
			state_dir = optarg;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'C':
			ca = optarg;
			break;
		case 'v':
			log_set_level(MG_LOG_DEBUG);
			break;
		case 'h':
			up_usage(stdout);
			return EXIT_OK;
		default:
			up_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgate up: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (ifname && (strlen(ifname) == 0 || strlen(ifname) > 15 || strchr(ifname, '/'))) {
		fprintf(stderr, "meshgate up: --ifname must be 1 to 15 characters without '/'\n");
		return EXIT_USAGE;
	}
	if (file && have_connect) {
		fprintf(stderr, "meshgate up: give --connect or --connect-file, not both\n");
		return EXIT_USAGE;
	}

	if (state_enrolled(state_dir)) {
		if (state_load(state_dir, &st, &e) < 0) {
			fprintf(stderr, "meshgate up: %s\n", e.msg);
			return EXIT_FAIL;
		}
		printf("Already enrolled as %s with %s; re-using that identity.\n", st.device_id,
		       st.target.url);
		if (have_connect || file)
			printf("(The connection string given was not used: a host enrols once. Run "
			       "`meshgate down --forget` first to enrol again.)\n");
	} else {
		if (!have_connect && !file) {
			fprintf(stderr, "meshgate up: not enrolled yet: give --connect STRING or "
					"--connect-file FILE\n");
			return EXIT_USAGE;
		}
		if (file && cli_read_connect_file(file, connect, sizeof(connect), &e) < 0) {
			fprintf(stderr, "meshgate up: %s\n", e.msg);
			return EXIT_FAIL;
		}
		if (connstr_parse(connect, &cs, &e) < 0) {
			wgkey_wipe(connect, sizeof(connect));
			fprintf(stderr, "meshgate up: %s\n", e.msg);
			return EXIT_FAIL;
		}
		wgkey_wipe(connect, sizeof(connect));
		int r = enroll(&cs, state_dir, ca, ifname, &st, &e);
		wgkey_wipe(&cs, sizeof(cs));
		if (r < 0) {
			/* a refused enrolment leaves nothing behind (enroll() undoes its files) */
			fprintf(stderr, "meshgate up: %s\n", e.msg);
			return EXIT_FAIL;
		}
		printf("Enrolled as %s (network %s) with %s.\n", st.device_id,
		       st.network_id[0] ? st.network_id : "?", st.target.url);
	}

	char *json = NULL;
	size_t len = 0;
	struct status_file *sf = status_open(state_dir);
	enum ctlc_result res = ctlc_fetch_config(&st.target, st.secret, 0, 0, &json, &len, &e);
	if (res == CTLC_ERR_REVOKED) {
		fprintf(stderr,
			"meshgate up: the controller revoked this connector; run `meshgate "
			"down --forget`, then `meshgate up` with a new connection string\n");
		status_set_error(sf, "revoked by the controller");
		rc = EXIT_REVOKED;
		goto out;
	}
	if (res != CTLC_OK) {
		fprintf(stderr, "meshgate up: fetching the config: %s\n", e.msg);
		status_set_error(sf, e.msg);
		goto out;
	}
	struct mg_config cfg;
	if (config_parse(json, len, &cfg, &e) < 0) {
		fprintf(stderr, "meshgate up: the controller's config was refused: %s\n", e.msg);
		status_set_error(sf, e.msg);
		goto out;
	}
	status_set_fetched(sf, cfg.version);
	status_set_error(sf, NULL);
	status_print_config_summary(stdout, &cfg);
	printf("\nNext: `meshgate run` (or start the meshgate service) to bring the tunnel up.\n");
	config_free(&cfg);
	rc = EXIT_OK;
out:
	status_close(sf);
	free(json);
	state_wipe(&st);
	return rc;
}
