/* SPDX-License-Identifier: MIT */
/*
 * The controller's network parser (an admin request body) then its subnet checks against
 * a fixed (dual-stack) store: the sorted overlap check must agree with the plain pairwise
 * one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "jsonu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctl_store st;

static void add_net(const char *id, const char *json)
{
	struct ctl_network *n = calloc(1, sizeof(*n));
	cJSON *j = cJSON_Parse(json);
	const char *code;
	mg_err e = {{0}};

	if (!n || !j || net_from_json(n, j, NET_CREATE, &code, &e) < 0)
		abort();
	strcpy(n->id, id);
	if (store_add_net(&st, n, &e) < 0)
		abort();
	cJSON_Delete(j);
}

static int pairwise(const struct ctl_network *n)
{
	for (size_t i = 0; i < n->n_subnets; i++) {
		if (cidr_overlaps(&n->subnets[i], &st.mesh) ||
		    (st.has_mesh6 && cidr_overlaps(&n->subnets[i], &st.mesh6)))
			return -1;
		for (size_t k = i + 1; k < n->n_subnets; k++)
			if (cidr_overlaps(&n->subnets[i], &n->subnets[k]))
				return -1;
		for (size_t m = 0; m < st.n_nets; m++)
			for (size_t k = 0;
			     strcmp(st.nets[m]->id, n->id) && k < st.nets[m]->n_subnets; k++)
				if (cidr_overlaps(&n->subnets[i], &st.nets[m]->subnets[k]))
					return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct ctl_network *n;
	const char *code = "invalid_request";
	mg_err e = {{0}};
	cJSON *j;

	if (!init) {
		struct cidr mesh, mesh6;
		cidr_parse("100.96.0.0/11", &mesh, 0, NULL);
		cidr_parse("fd6d:6773::/64", &mesh6, 0, NULL);
		store_init(&st, &mesh);
		store_set_mesh6(&st, &mesh6); /* dual stack, as the controller's default */
		add_net("n-00000001",
			"{\"name\":\"A\",\"subnets\":[\"192.0.2.0/25\",\"198.51.100.0/"
			"24\",\"2001:db8:1::/48\"]}");
		add_net("n-00000002",
			"{\"name\":\"B\",\"subnets\":[\"192.0.2.128/26\",\"10.0.0.0/8\","
			"\"2001:db8:2::/64\"]}");
		init = 1;
	}
	j = jsonu_parse((const char *)data, size, 1 << 16, &e);
	if (!j)
		return 0;
	n = calloc(1, sizeof(*n));
	if (!n)
		abort();
	if (net_from_json(n, j, NET_CREATE, &code, &e) == 0) {
		/* a new network, or (first byte odd) the replacement of A */
		strcpy(n->id, size && (data[0] & 1) ? "n-00000001" : "n-00000009");
		for (size_t i = 1; i < n->n_subnets; i++)
			if (cidr_cmp(&n->subnets[i - 1], &n->subnets[i]) >= 0)
				abort(); /* sorted and unique */
		if (n->n_subnets > MG_LIMIT_SUBNETS || n->n_nat_exclude > MG_LIMIT_EXCLUDES ||
		    n->n_access > MG_LIMIT_ACCESS)
			abort();
		if ((net_check_conflicts(&st, n, &e) < 0) != (pairwise(n) < 0))
			abort();
		if (net_check_limits(&st, n, &e) != 0)
			abort(); /* a few subnets: far from the limit */
	} else if (!e.msg[0]) {
		abort();
	}
	net_free(n);
	cJSON_Delete(j);
	return 0;
}
