/* SPDX-License-Identifier: MIT */
/*
 * Test driver for agent/dataplane/nft.c:
 *   mg_nfttool apply TUN CONFIG.json [--reject] [--no-mss] [--open-docker-user] [--open-ufw]
 *   mg_nfttool remove
 *   mg_nfttool scan TUN
 *   mg_nfttool monitor MS        (prints "touched" for each foreign change, for MS ms)
 * CONFIG.json is a controller config document (nat, access, egress are used).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "fsutil.h"
#include "log.h"
#include "nft.h"

static int apply(struct nft_ctx *c, int argc, char **argv)
{
	struct mg_config cfg;
	struct nft_spec s = {.mss_clamp = true};
	unsigned flags = 0;
	mg_err e = {""};
	char *json;
	size_t len;
	int r;

	if (argc < 4)
		return 2;
	snprintf(s.tun_if, sizeof(s.tun_if), "%s", argv[2]);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--reject"))
			flags |= NFT_APPLY_TEST_REJECT;
		else if (!strcmp(argv[i], "--no-mss"))
			s.mss_clamp = false;
		else if (!strcmp(argv[i], "--open-docker-user"))
			s.open_docker_user = true;
		else if (!strcmp(argv[i], "--open-ufw"))
			s.open_ufw = true;
		else
			return 2;
	}
	if (fs_read_bounded(argv[3], CONFIG_MAX_BYTES, &json, &len, &e) < 0 ||
	    config_parse(json, len, &cfg, &e) < 0) {
		fprintf(stderr, "mg_nfttool: %s\n", e.msg);
		return 1;
	}
	free(json);
	s.nat = cfg.nat.enabled;
	s.exclude = cfg.nat.exclude;
	s.n_exclude = cfg.nat.n_exclude;
	s.egress = cfg.egress;
	s.lan = cfg.advertised;
	s.n_lan = cfg.n_advertised;
	s.access = cfg.access;
	s.n_access = cfg.n_access;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = nft_apply(c, &s, flags, &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	config_free(&cfg);
	if (r < 0) {
		fprintf(stderr, "mg_nfttool: %s\n", e.msg);
		return 1;
	}
	printf("applied in %.3f ms\n",
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	struct nft_ctx *c;
	mg_err e = {""};
	int r = 2;

	log_init("mg_nfttool", MG_LOG_INFO);
	if (argc < 2 || nft_open(&c, &e) < 0) {
		fprintf(stderr, "usage: see the comment in mg_nfttool.c %s\n", e.msg);
		return 2;
	}
	if (!strcmp(argv[1], "apply")) {
		r = apply(c, argc, argv);
	} else if (!strcmp(argv[1], "remove")) {
		r = nft_remove(c, &e) < 0 ? 1 : 0;
	} else if (!strcmp(argv[1], "scan") && argc == 3) {
		char w[NFT_MAX_WARNINGS][NFT_WARN_LEN];
		int n = nft_coexist_scan(c, argv[2], w, NFT_MAX_WARNINGS, &e);
		for (int i = 0; i < n; i++)
			printf("%s\n", w[i]);
		r = n < 0 ? 1 : 0;
	} else if (!strcmp(argv[1], "monitor") && argc == 3) {
		long ms = strtol(argv[2], NULL, 10);
		struct timespec t0, t;
		if (nft_mon_open(c, &e) < 0) {
			fprintf(stderr, "mg_nfttool: %s\n", e.msg);
			return 1;
		}
		printf("ready\n");
		fflush(stdout);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			struct pollfd p = {.fd = nft_mon_fd(c), .events = POLLIN};
			bool touched = false;
			clock_gettime(CLOCK_MONOTONIC, &t);
			long left = ms - ((t.tv_sec - t0.tv_sec) * 1000 +
					  (t.tv_nsec - t0.tv_nsec) / 1000000);
			if (left <= 0)
				break;
			if (poll(&p, 1, (int)left) > 0 && nft_mon_read(c, &touched, &e) == 0 &&
			    touched) {
				printf("touched\n");
				fflush(stdout);
			}
		}
		r = 0;
	}
	if (r == 1 && e.msg[0])
		fprintf(stderr, "mg_nfttool: %s\n", e.msg);
	nft_close(c);
	return r;
}
