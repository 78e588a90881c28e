/* SPDX-License-Identifier: MIT */
/* meshgate: the connector agent of a WireGuard mesh. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctlc.h"
#include "log.h"
#include "version.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *what;
} commands[] = {
    {"up", cmd_up, "enrol with a controller from a connection string and fetch the config"},
    {"run", cmd_run, "run the agent (the service): tunnel, routes, host settings, drift repair"},
    {"status", cmd_status, "show what the agent knows (--json for machines)"},
    {"down", cmd_down, "remove everything meshgate made on this host (--forget: and the identity)"},
    {"check", cmd_check, "preflight: privileges, nftables, WireGuard, path to the controller"},
    {"doctor", cmd_doctor, "find what keeps the connector from working, and the fix for each"},
    {"cleanup", cmd_cleanup, "after an unclean stop: remove the tunnel, routes and table left"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: meshgate <command> [options]\n\n"
		   "meshgate turns this host into the mesh's router for its LAN: it enrols with\n"
		   "the controller, brings up a WireGuard tunnel to the hub and keeps routes,\n"
		   "forwarding and firewall in line with what the controller says.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
	fprintf(f, "\n`meshgate <command> --help` explains each command's options.\n\n"
		   "Exit codes: 0 ok, 1 failed (the message says why), 2 bad usage,\n"
		   "3 revoked by the controller, 4 not enrolled.\n");
}

int main(int argc, char **argv)
{
	mg_err e = {""};
	int rc;

	log_init("meshgate", MG_LOG_INFO);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		if (ctlc_global_init(&e) < 0) {
			fprintf(stderr, "meshgate: %s\n", e.msg);
			return EXIT_FAIL;
		}
		rc = commands[i].fn(argc - 1, argv + 1);
		ctlc_global_cleanup();
		return rc;
	}
	fprintf(stderr, "meshgate: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
