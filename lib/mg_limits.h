/* SPDX-License-Identifier: MIT */
/*
 * meshgate's one set of limits (docs/LIMITS.md is this table in prose). The controller
 * API, the agent's config parser, the kernel programming (routes, WireGuard allowed IPs)
 * and nftables all take their caps from here, so a document the controller accepts is
 * one the agent applies, and each refusal names the limit and the number.
 */
#ifndef MG_LIMITS_H
#define MG_LIMITS_H

#include <stddef.h>

/* Subnets of all networks together. Every connector routes all of them (less its own)
 * and every user's AllowedIPs holds all of them: one limit keeps both in bounds. */
#define MG_LIMIT_SUBNETS 16382
/* Routes of one connector (config "routes", kernel routes on the tunnel, the hub peer's
 * allowed IPs, "cloud.destinations") and AllowedIPs of one user: the mesh ranges (IPv4
 * and IPv6) plus every subnet. */
#define MG_LIMIT_ROUTES (MG_LIMIT_SUBNETS + 2)
/* NAT exclusions of one network (one nftables interval set on its connectors). */
#define MG_LIMIT_EXCLUDES 16384
/* Access entries of one network, and ports (or ranges) of one entry. */
#define MG_LIMIT_ACCESS 1024
#define MG_LIMIT_PORTS  256
/* Objects of the controller. */
#define MG_LIMIT_NETWORKS   1024
#define MG_LIMIT_CONNECTORS 65536
#define MG_LIMIT_USERS      4096
/* WireGuard peers of the hub: every connector and every user. */
#define MG_LIMIT_PEERS (MG_LIMIT_CONNECTORS + MG_LIMIT_USERS)
/* A request body of the controller API (a network with its longest lists fits). */
#define MG_LIMIT_BODY_BYTES (2u << 20)
/* A config document as the agent reads it (every list at its limit fits). */
#define MG_LIMIT_CONFIG_BYTES (8u << 20)

struct mg_limit {
	const char *name; /* as in docs/LIMITS.md and in error messages */
	size_t value;
	const char *what;
};

/* The table above, for docs checks and `meshgate check`-style listings. */
extern const struct mg_limit mg_limits[];
extern const size_t mg_n_limits;

#endif
