/* SPDX-License-Identifier: MIT */
#include "mg_limits.h"

#include "err.h"

const struct mg_limit mg_limits[] = {
    {"subnets", MG_LIMIT_SUBNETS, "subnets of all networks together"},
    {"routes", MG_LIMIT_ROUTES, "routes of one connector, AllowedIPs of one user"},
    {"exclusions", MG_LIMIT_EXCLUDES, "NAT exclusions of one network"},
    {"access entries", MG_LIMIT_ACCESS, "access entries of one network"},
    {"ports", MG_LIMIT_PORTS, "ports or port ranges of one access entry"},
    {"networks", MG_LIMIT_NETWORKS, "networks of one controller"},
    {"connectors", MG_LIMIT_CONNECTORS, "connectors of one controller (revoked ones count)"},
    {"users", MG_LIMIT_USERS, "users of one controller (revoked ones count)"},
    {"peers", MG_LIMIT_PEERS, "WireGuard peers of the hub"},
    {"request body", MG_LIMIT_BODY_BYTES, "bytes of one controller API request body"},
    {"config document", MG_LIMIT_CONFIG_BYTES, "bytes of one config document"},
};
const size_t mg_n_limits = MG_ARRAY_SIZE(mg_limits);
