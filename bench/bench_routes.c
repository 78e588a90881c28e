/* SPDX-License-Identifier: MIT */
/*
 * Route programming: lib/rtnl against `ip -batch` and one `ip route add` per route.
 * Runs in a fresh network namespace of its own (unshare(CLONE_NEWNET)), never in
 * the caller's; the namespace disappears with the process. Needs root.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rtnl.h"

#define N_ROUTES 10000
#define N_SAMPLE 500

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void route_at(size_t i, struct rtnl_route *rt, uint32_t oif)
{
	memset(rt, 0, sizeof(*rt));
	rt->dst.family = AF_INET;
	rt->dst.len = 32;
	rt->dst.addr[0] = 198;
	rt->dst.addr[1] = (uint8_t)(18 + (i >> 16));
	rt->dst.addr[2] = (uint8_t)(i >> 8);
	rt->dst.addr[3] = (uint8_t)i;
	rt->oif = oif;
}

static int run(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static size_t count_ours(struct rtnl *r)
{
	struct rtnl_route *rt;
	size_t n;
	mg_err e;
	if (rtnl_route_dump(r, RTPROT_MESHGATE, 0, &rt, &n, &e) < 0) {
		fprintf(stderr, "dump: %s\n", e.msg);
		exit(1);
	}
	free(rt);
	return n;
}

static int write_batch(const char *path, const char *verb, size_t n)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct rtnl_route rt;
		char c[CIDR_STRLEN];
		route_at(i, &rt, 1);
		fprintf(f, "route %s %s dev lo proto %d\n", verb, cidr_format(&rt.dst, c),
			RTPROT_MESHGATE);
	}
	if (fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

int main(void)
{
	mg_err e = {{0}};
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "bench_routes: unshare(CLONE_NEWNET): %s (needs root)\n",
			strerror(errno));
		return 77;
	}
	struct rtnl r;
	if (rtnl_open(&r, &e) < 0 || rtnl_link_set(&r, 1, true, 0, &e) < 0) {
		fprintf(stderr, "bench_routes: %s\n", e.msg);
		return 1;
	}
	struct rtnl_route *routes = calloc(N_ROUTES, sizeof(*routes));
	if (!routes)
		return 1;
	for (size_t i = 0; i < N_ROUTES; i++)
		route_at(i, &routes[i], 1); /* lo */

	printf("bench_routes: %d IPv4 /32 device routes on lo, private netns\n", N_ROUTES);

	/* 1. the library */
	double t0 = now();
	if (rtnl_routes_apply(&r, routes, N_ROUTES, NULL, 0, RTPROT_MESHGATE, NULL, &e) < 0) {
		fprintf(stderr, "apply: %s\n", e.msg);
		return 1;
	}
	double t_lib_add = now() - t0;
	if (count_ours(&r) != N_ROUTES) {
		fprintf(stderr, "expected %d routes after add\n", N_ROUTES);
		return 1;
	}
	/* no-op reconcile: dump + diff of an unchanged set */
	t0 = now();
	struct rtnl_route *cur, *add, *del;
	size_t nc, na, nd;
	if (rtnl_route_dump(&r, RTPROT_MESHGATE, 0, &cur, &nc, &e) < 0 ||
	    rtnl_route_diff(routes, N_ROUTES, cur, nc, &add, &na, &del, &nd, &e) < 0) {
		fprintf(stderr, "reconcile: %s\n", e.msg);
		return 1;
	}
	double t_lib_noop = now() - t0;
	if (na || nd) {
		fprintf(stderr, "no-op reconcile found %zu adds %zu deletes\n", na, nd);
		return 1;
	}
	free(add);
	free(del);
	t0 = now();
	if (rtnl_routes_apply(&r, NULL, 0, cur, nc, RTPROT_MESHGATE, NULL, &e) < 0) {
		fprintf(stderr, "delete: %s\n", e.msg);
		return 1;
	}
	double t_lib_del = now() - t0;
	free(cur);
	if (count_ours(&r) != 0) {
		fprintf(stderr, "routes left after delete\n");
		return 1;
	}

	/* 2. ip -batch */
	char path[] = "/tmp/bench_routes.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	char *batch_argv[] = {"ip", "-batch", path, NULL};
	if (write_batch(path, "add", N_ROUTES) < 0)
		return 1;
	t0 = now();
	if (run(batch_argv) < 0) {
		fprintf(stderr, "ip -batch add failed\n");
		unlink(path);
		return 1;
	}
	double t_batch_add = now() - t0;
	if (count_ours(&r) != N_ROUTES) {
		fprintf(stderr, "ip -batch: wrong route count\n");
		unlink(path);
		return 1;
	}
	if (write_batch(path, "del", N_ROUTES) < 0)
		return 1;
	t0 = now();
	int ret = run(batch_argv);
	double t_batch_del = now() - t0;
	unlink(path);
	if (ret < 0 || count_ours(&r) != 0) {
		fprintf(stderr, "ip -batch del failed\n");
		return 1;
	}

	/* 3. one ip process per route (a sample, extrapolated) */
	t0 = now();
	for (size_t i = 0; i < N_SAMPLE; i++) {
		char c[CIDR_STRLEN], proto[8];
		cidr_format(&routes[i].dst, c);
		snprintf(proto, sizeof(proto), "%d", RTPROT_MESHGATE);
		char *argv[] = {"ip", "route", "add", c, "dev", "lo", "proto", proto, NULL};
		if (run(argv) < 0) {
			fprintf(stderr, "ip route add %s failed\n", c);
			return 1;
		}
	}
	double t_each = (now() - t0) * ((double)N_ROUTES / N_SAMPLE);
	if (count_ours(&r) != N_SAMPLE) {
		fprintf(stderr, "per-route sample: wrong count\n");
		return 1;
	}

	printf("%-40s %9.3f s  (%5.2f us/route)\n", "lib/rtnl add (NLM_F_REPLACE, ACK each)",
	       t_lib_add, t_lib_add * 1e6 / N_ROUTES);
	printf("%-40s %9.3f s\n", "lib/rtnl no-op reconcile (dump+diff)", t_lib_noop);
	printf("%-40s %9.3f s  (%5.2f us/route)\n", "lib/rtnl delete", t_lib_del,
	       t_lib_del * 1e6 / N_ROUTES);
	printf("%-40s %9.3f s  (%5.2f us/route)\n", "ip -batch add", t_batch_add,
	       t_batch_add * 1e6 / N_ROUTES);
	printf("%-40s %9.3f s  (%5.2f us/route)\n", "ip -batch del", t_batch_del,
	       t_batch_del * 1e6 / N_ROUTES);
	printf("%-40s %9.3f s  (%5.0f us/route; %d measured)\n",
	       "ip route add per route (extrapolated)", t_each, t_each * 1e6 / N_ROUTES, N_SAMPLE);
	printf("ratio add: ip -batch / lib = %.1fx, ip per route / lib = %.0fx\n",
	       t_batch_add / t_lib_add, t_each / t_lib_add);
	printf("ratio del: ip -batch / lib = %.1fx\n", t_batch_del / t_lib_del);
	free(routes);
	rtnl_close(&r);
	return 0;
}
