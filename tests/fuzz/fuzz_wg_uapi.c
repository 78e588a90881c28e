/* SPDX-License-Identifier: MIT */
/*
 * wg_uapi_parse_get, the reader of wireguard-go's "get=1" replies. A refusal carries a
 * message and leaves the device empty; an accepted reply holds only valid values, and
 * written back as UAPI text (wg_uapi_set_text) it parses again to the same device.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wg.h"
#include "wg_uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct wg_device empty;

static void check_valid(const struct wg_device *d)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct wg_peer *p = &d->peers[i];
		if (p->has_endpoint && p->endpoint.ss_family != AF_INET &&
		    p->endpoint.ss_family != AF_INET6)
			abort();
		for (size_t k = 0; k < p->n_allowed_ips; k++) {
			struct cidr c = p->allowed_ips[k];
			if ((c.family != AF_INET && c.family != AF_INET6) ||
			    c.len > cidr_max_len(&c))
				abort();
			cidr_mask(&c);
			if (!cidr_equal(&c, &p->allowed_ips[k]))
				abort(); /* stored masked */
		}
	}
}

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static void check_same(const struct wg_device *a, const struct wg_device *b)
{
	if (a->has_private_key != b->has_private_key ||
	    (a->has_private_key && memcmp(a->private_key, b->private_key, WG_KEY_LEN)) ||
	    a->listen_port != b->listen_port || a->has_fwmark != b->has_fwmark ||
	    a->fwmark != b->fwmark || a->n_peers != b->n_peers)
		abort();
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct wg_peer *p = &a->peers[i], *q = &b->peers[i];
		if (memcmp(p->public_key, q->public_key, WG_KEY_LEN) ||
		    p->has_endpoint != q->has_endpoint ||
		    (p->has_endpoint && !same_endpoint(&p->endpoint, &q->endpoint)) ||
		    p->persistent_keepalive != q->persistent_keepalive ||
		    p->n_allowed_ips != q->n_allowed_ips)
			abort();
		for (size_t k = 0; k < p->n_allowed_ips; k++)
			if (!cidr_equal(&p->allowed_ips[k], &q->allowed_ips[k]))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_device dev, again;
	mg_err e = {{0}};
	char *text = NULL, *reply;
	size_t len = 0;

	if (wg_uapi_parse_get((const char *)data, size, &dev, &e) < 0) {
		if (!e.msg[0] || memcmp(&dev, &empty, sizeof(dev)))
			abort();
		return 0;
	}
	check_valid(&dev);
	/* "set=1\n<device and peers>\n" -> "<device and peers>errno=0\n\n" */
	if (wg_uapi_set_text(&dev, &text, &len, &e) < 0 || len < 7 || memcmp(text, "set=1\n", 6))
		abort();
	reply = malloc(len + 16);
	if (!reply)
		abort();
	size_t body = len - 7;
	memcpy(reply, text + 6, body);
	memcpy(reply + body, "errno=0\n\n", 9);
	if (wg_uapi_parse_get(reply, body + 9, &again, &e) < 0)
		abort();
	check_same(&dev, &again);
	wg_text_free(text, len);
	wg_text_free(reply, len + 16);
	wg_device_free(&again);
	wg_device_free(&dev);
	return 0;
}
