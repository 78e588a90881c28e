/* SPDX-License-Identifier: MIT */
/* The wg-quick client config of a remote user (a laptop reaching the sites' private apps). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "egress.h"

struct sbuf {
	char *p;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	/* the buffer is sized up front; truncation would be a bug, never silent */
	if (n > 0)
		b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

/*
 * [Interface] PrivateKey, Address (the user's /32 or /128, then its IPv6 /128 with an
 * IPv6 mesh range), MTU; [Peer] the hub, with AllowedIPs = the mesh range (and the IPv6
 * mesh range), then every network's subnets sorted and de-duplicated;
 * for a full-tunnel user while an egress network exists, 0.0.0.0/0 and ::/0 instead.
 */
char *user_config_text(const struct ctl_ctx *ctx, const struct ctl_user *u, const char *priv_b64,
		       mg_err *e)
{
	const struct ctl_store *s = &ctx->store;
	char a[CIDR_STRLEN], a6[CIDR_STRLEN] = "", key[WG_KEY_B64_LEN];
	struct sbuf b = {0};
	struct cidr addr, addr6, *v = NULL;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < s->n_nets; i++)
		n += s->nets[i]->n_subnets;
	if (n) {
		v = calloc(n, sizeof(*v));
		if (!v) {
			mg_err_set(e, "out of memory");
			return NULL;
		}
		for (size_t i = 0; i < s->n_nets; i++)
			for (size_t j = 0; j < s->nets[i]->n_subnets; j++)
				v[k++] = s->nets[i]->subnets[j];
		n = cidr_sort_unique(v, k);
	}
	b.cap = 640 + strlen(ctx->hub_endpoint) + (n + 1) * (CIDR_STRLEN + 2);
	b.p = malloc(b.cap);
	if (!b.p) {
		free(v);
		mg_err_set(e, "out of memory");
		return NULL;
	}
	b.p[0] = '\0';
	store_addr(s, u->addr_index, &addr);
	if (store_addr6(s, u->addr_index, &addr6))
		cidr_format(&addr6, a6);
	wgkey_to_base64(ctx->hub_pub, key);
	sb_add(&b, "[Interface]\nPrivateKey = %s\nAddress = %s%s%s\nMTU = %d\n\n",
	       priv_b64 ? priv_b64 : USER_KEY_PLACEHOLDER, cidr_format(&addr, a), a6[0] ? ", " : "",
	       a6, CTL_MTU);
	sb_add(&b, "[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = ", key, ctx->hub_endpoint);
	if (egress_user_full(s, u)) { /* full tunnel: everything, the mesh included */
		sb_add(&b, "0.0.0.0/0, ::/0");
	} else {
		sb_add(&b, "%s", cidr_format(&s->mesh, a));
		if (s->has_mesh6)
			sb_add(&b, ", %s", cidr_format(&s->mesh6, a));
		for (size_t i = 0; i < n; i++)
			sb_add(&b, ", %s", cidr_format(&v[i], a));
	}
	sb_add(&b, "\nPersistentKeepalive = %d\n", CTL_KEEPALIVE);
	free(v);
	return b.p;
}
