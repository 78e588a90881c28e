/* SPDX-License-Identifier: MIT */
/* WireGuard device descriptions: memory (arrays grow, keys are wiped on free). */
#include "wg_backend.h"

#include <stdlib.h>
#include <string.h>

void wg_peer_free(struct wg_peer *peer)
{
	free(peer->allowed_ips);
	memset(peer, 0, sizeof(*peer));
}

void wg_device_free(struct wg_device *dev)
{
	for (size_t i = 0; i < dev->n_peers; i++)
		wg_peer_free(&dev->peers[i]);
	free(dev->peers);
	wgkey_wipe(dev->private_key, sizeof(dev->private_key));
	memset(dev, 0, sizeof(*dev));
}

/* Arrays grow to 4, 8, 16, ...: capacity is implied by the count. */
static bool needs_growth(size_t n)
{
	return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

struct wg_peer *wg_device_add_peer(struct wg_device *dev)
{
	size_t n = dev->n_peers;
	if (needs_growth(n)) {
		size_t cap = n ? n * 2 : 4;
		struct wg_peer *p = realloc(dev->peers, cap * sizeof(*p));
		if (!p)
			return NULL;
		dev->peers = p;
	}
	struct wg_peer *peer = &dev->peers[dev->n_peers++];
	memset(peer, 0, sizeof(*peer));
	return peer;
}

int wg_peer_add_allowed_ip(struct wg_peer *peer, const struct cidr *c)
{
	size_t n = peer->n_allowed_ips;
	if (needs_growth(n)) {
		size_t cap = n ? n * 2 : 4;
		struct cidr *p = realloc(peer->allowed_ips, cap * sizeof(*p));
		if (!p)
			return -1;
		peer->allowed_ips = p;
	}
	peer->allowed_ips[peer->n_allowed_ips++] = *c;
	return 0;
}
