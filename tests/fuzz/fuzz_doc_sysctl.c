/* SPDX-License-Identifier: MIT */
/* meshgate doctor reads sysctl.d files it did not write: doc_sysctl_text_value on any
 * text, for a fixed key, a key with a dot in an interface name, and a key taken from the
 * input's first line; the value found is NUL-terminated within its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t = malloc(size + 1), key[128], val[16];
	const char *keys[3] = {"net.ipv4.ip_forward", "net.ipv4.conf.eth0/5.rp_filter", key};
	int line;

	if (!t)
		return 0;
	memcpy(t, data, size);
	t[size] = '\0';
	size_t kl = strcspn(t, "\n");
	if (kl >= sizeof(key))
		kl = sizeof(key) - 1;
	memcpy(key, t, kl);
	key[kl] = '\0';
	for (int i = 0; i < 3; i++) {
		line = 0;
		memset(val, 'x', sizeof(val));
		int r = doc_sysctl_text_value(t, size, keys[i], val, sizeof(val), &line);
		if (r < 0 || r > 1)
			abort();
		if (r == 1 && (line < 1 || memchr(val, '\0', sizeof(val)) == NULL))
			abort();
	}
	free(t);
	return 0;
}
