/* SPDX-License-Identifier: MIT */
/* meshgate status: what the agent knows. Never prints a secret. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "state.h"
#include "status.h"
#include "version.h"

static void status_usage(FILE *f)
{
	fprintf(f, "Usage: meshgate status [--json] [--state-dir DIR]\n\n"
		   "Shows whether this host is enrolled, with which controller, the config\n"
		   "versions fetched and applied, the tunnel and the last error. Secrets (device\n"
		   "secret, private key) are never shown.\n\n"
		   "Options:\n"
		   "  -j, --json           machine-readable output\n"
		   "  -s, --state-dir DIR  state directory (default " STATE_DIR_DEFAULT ")\n"
		   "  -h, --help           this text\n");
}

static cJSON *status_json(const char *dir, bool *enrolled)
{
	struct agent_state st;
	mg_err e = {""};
	cJSON *out = cJSON_CreateObject(), *saved;
	char pub[WG_KEY_B64_LEN];

	if (!out)
		return NULL;
	cJSON_AddStringToObject(out, "version", mg_version());
	cJSON_AddStringToObject(out, "state_dir", dir);
	*enrolled = state_load(dir, &st, &e) == 0;
	cJSON_AddBoolToObject(out, "enrolled", *enrolled);
	if (*enrolled) {
		wgkey_to_base64(st.pub, pub);
		cJSON_AddStringToObject(out, "device_id", st.device_id);
		cJSON_AddStringToObject(out, "network_id", st.network_id);
		cJSON_AddStringToObject(out, "controller", st.target.url);
		cJSON_AddStringToObject(out, "pin", st.target.pin);
		cJSON_AddStringToObject(out, "public_key", pub);
		cJSON_AddStringToObject(out, "ifname", st.ifname[0] ? st.ifname : "mg0");
		cJSON_AddNumberToObject(out, "enrolled_at", (double)st.enrolled_at);
		state_wipe(&st);
	} else if (state_enrolled(dir)) {
		cJSON_AddStringToObject(out, "state_error", e.msg);
	}
	saved = state_load_status(dir, &e);
	if (saved) {
		cJSON *it;
		cJSON_ArrayForEach(it, saved)
		{
			if (!cJSON_HasObjectItem(out, it->string))
				cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, true));
		}
		cJSON_Delete(saved);
	}
	return out;
}

static const char *str_or(const cJSON *o, const char *k, const char *dflt)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(it) ? it->valuestring : dflt;
}

static void print_num(const cJSON *o, const char *k, const char *label)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
	if (cJSON_IsNumber(it))
		printf("%-18s %lld\n", label, (long long)it->valuedouble);
	else
		printf("%-18s -\n", label);
}

static void print_human(const cJSON *s, bool enrolled)
{
	printf("meshgate %s\n", str_or(s, "version", "?"));
	printf("%-18s %s\n", "State directory:", str_or(s, "state_dir", "?"));
	if (!enrolled) {
		const char *err = str_or(s, "state_error", NULL);
		printf("%-18s no%s%s\n", "Enrolled:", err ? " - " : "", err ? err : "");
		if (!err)
			printf("\nRun `meshgate up --connect <string>` to enrol.\n");
		return;
	}
	printf("%-18s yes, as %s (network %s)\n", "Enrolled:", str_or(s, "device_id", "?"),
	       str_or(s, "network_id", "?"));
	printf("%-18s %s\n", "Controller:", str_or(s, "controller", "?"));
	printf("%-18s %s\n", "Controller pin:", str_or(s, "pin", "?"));
	printf("%-18s %s\n", "Public key:", str_or(s, "public_key", "?"));
	printf("%-18s %s\n", "Interface:", str_or(s, "ifname", "?"));
	print_num(s, "last_config_version", "Config fetched:");
	print_num(s, "applied_version", "Config applied:");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(s, "daemon");
	if (cJSON_IsObject(d)) {
		printf("%-18s %s\n", "Daemon:", str_or(d, "state", "?"));
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "tunnel");
		if (cJSON_IsObject(t)) {
			printf("%-18s %s, backend %s\n", "Tunnel:", str_or(t, "state", "?"),
			       str_or(t, "backend", "?"));
			print_num(t, "handshake_age", "Handshake age (s):");
			print_num(t, "rx_bytes", "Received (bytes):");
			print_num(t, "tx_bytes", "Sent (bytes):");
		}
		print_num(d, "routes", "Routes installed:");
		const cJSON *ha = cJSON_GetObjectItemCaseSensitive(d, "ha");
		if (cJSON_IsObject(ha)) {
			const cJSON *ep = cJSON_GetObjectItemCaseSensitive(ha, "epoch");
			const cJSON *left = cJSON_GetObjectItemCaseSensitive(ha, "lease_left_ms");
			printf("%-18s %s, epoch %lld, lease %lld ms left, cloud writes %s\n",
			       "HA role:", str_or(ha, "role", "?"),
			       (long long)(cJSON_IsNumber(ep) ? ep->valuedouble : 0),
			       (long long)(cJSON_IsNumber(left) ? left->valuedouble : 0),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ha, "cloud_writes"))
				   ? "on"
				   : "off");
		}
		const cJSON *cl = cJSON_GetObjectItemCaseSensitive(d, "cloud");
		if (cJSON_IsObject(cl)) {
			printf("%-18s %s: %s\n", "Cloud:", str_or(cl, "provider", "?"),
			       str_or(cl, "state", "?"));
			if (cJSON_GetObjectItemCaseSensitive(cl, "instance"))
				printf(
				    "%-18s %s, NIC %s, network %s, %s, forwarding %s\n", "",
				    str_or(cl, "instance", "?"), str_or(cl, "nic", "?"),
				    str_or(cl, "network", "?"), str_or(cl, "region", "?"),
				    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cl, "forwarding"))
					? "on"
					: "not verified");
			if (str_or(cl, "credential", NULL))
				printf("%-18s credential: %s%s%s\n", "",
				       str_or(cl, "credential", ""),
				       str_or(cl, "credential_expires", NULL) ? ", token expires "
									      : "",
				       str_or(cl, "credential_expires", ""));
			const cJSON *tb;
			cJSON_ArrayForEach(tb, cJSON_GetObjectItemCaseSensitive(cl, "tables"))
			{
				const cJSON *ow = cJSON_GetObjectItemCaseSensitive(tb, "owned");
				const cJSON *co = cJSON_GetObjectItemCaseSensitive(tb, "conflicts");
				printf("%-18s %s: %lld ours, %lld conflict%s%s%s%s%s\n", "",
				       str_or(tb, "id", "?"),
				       (long long)(cJSON_IsNumber(ow) ? ow->valuedouble : 0),
				       (long long)(cJSON_IsNumber(co) ? co->valuedouble : 0),
				       cJSON_IsNumber(co) && co->valuedouble == 1 ? "" : "s",
				       str_or(tb, "conflict", NULL) ? " - " : "",
				       str_or(tb, "conflict", ""),
				       str_or(tb, "last_error", NULL) ? "; last error: " : "",
				       str_or(tb, "last_error", ""));
			}
		}
		const cJSON *fw = cJSON_GetObjectItemCaseSensitive(d, "firewall");
		if (cJSON_IsObject(fw)) {
			const cJSON *nat = cJSON_GetObjectItemCaseSensitive(fw, "nat");
			const cJSON *ex = cJSON_GetObjectItemCaseSensitive(fw, "exclusions");
			printf("%-18s %s", "NAT:", cJSON_IsTrue(nat) ? "on" : "off");
			if (cJSON_IsTrue(nat) && cJSON_IsNumber(ex))
				printf(", %lld exclusion%s", (long long)ex->valuedouble,
				       ex->valuedouble == 1 ? "" : "s");
			printf("\n%-18s %s\n", "Access:",
			       str_or(fw, "access", "")[0] ? str_or(fw, "access", "")
							   : "none (all mesh traffic to the LAN is "
							     "dropped)");
			const cJSON *w;
			cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(fw, "warnings"))
			{
				if (cJSON_IsString(w))
					printf("%-18s %s\n", "Warning:", w->valuestring);
			}
		}
	}
	printf("%-18s %s\n", "Last error:", str_or(s, "last_error", "none"));
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = STATE_DIR_DEFAULT;
	bool json = false, enrolled = false;
	cJSON *s;
	int c;

	while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			dir = optarg;
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_OK;
		default:
			status_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgate status: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	s = status_json(dir, &enrolled);
	if (!s) {
		fprintf(stderr, "meshgate status: out of memory\n");
		return EXIT_FAIL;
	}
	if (json) {
		char *t = cJSON_Print(s);
		if (t)
			printf("%s\n", t);
		cJSON_free(t);
	} else {
		print_human(s, enrolled);
	}
	cJSON_Delete(s);
	return enrolled ? EXIT_OK : EXIT_NOTENROLLED;
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("meshgate %s\n", mg_version());
	return EXIT_OK;
}
