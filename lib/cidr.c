/* SPDX-License-Identifier: MIT */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool ipv4_strict(const char *s)
{
	/* inet_pton already rejects octal and short forms; also refuse leading zeros. */
	int digits = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			digits = 0;
			continue;
		}
		if (digits == 1 && p[-1] == '0')
			return false;
		digits++;
	}
	return true;
}

int addr_parse(const char *s, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (!s || !*s || strlen(s) >= INET6_ADDRSTRLEN)
		return -1;
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, addr) != 1)
			return -1;
		*family = AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, s, addr) != 1 || !ipv4_strict(s))
		return -1;
	*family = AF_INET;
	return 0;
}

static bool host_bits_set(const struct cidr *c)
{
	int alen = cidr_addr_len(c);
	for (int i = 0; i < alen; i++) {
		int bit0 = i * 8;
		uint8_t keep;
		if (bit0 + 8 <= c->len)
			continue;
		keep = bit0 >= c->len ? 0 : (uint8_t)(0xff << (8 - (c->len - bit0)));
		if (c->addr[i] & (uint8_t)~keep)
			return true;
	}
	return false;
}

void cidr_mask(struct cidr *c)
{
	int alen = cidr_addr_len(c);
	for (int i = 0; i < 16; i++) {
		int bit0 = i * 8;
		if (i >= alen) {
			c->addr[i] = 0;
			continue;
		}
		if (bit0 + 8 <= c->len)
			continue;
		c->addr[i] &= bit0 >= c->len ? 0 : (uint8_t)(0xff << (8 - (c->len - bit0)));
	}
}

int cidr_parse(const char *s, struct cidr *out, unsigned flags, mg_err *e)
{
	char buf[CIDR_STRLEN], canon[CIDR_STRLEN];
	const char *slash;
	long len;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return mg_err_set(e, "empty CIDR");
	if (strlen(s) >= sizeof(buf))
		return mg_err_set(e, "CIDR \"%.40s...\" is too long", s);
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!slash) {
		if (!(flags & CIDR_ALLOW_BARE))
			return mg_err_set(e, "\"%s\" has no prefix length (expected addr/len)", s);
		if (addr_parse(buf, &out->family, out->addr) < 0)
			return mg_err_set(e, "\"%s\" is not an IPv4 or IPv6 address", s);
		out->len = (uint8_t)cidr_max_len(out);
		return 0;
	}
	buf[slash - buf] = '\0';
	const char *lens = slash + 1;
	if (!*lens || strlen(lens) > 3)
		return mg_err_set(e, "\"%s\": bad prefix length", s);
	for (const char *p = lens; *p; p++)
		if (*p < '0' || *p > '9')
			return mg_err_set(e, "\"%s\": bad prefix length", s);
	if (lens[0] == '0' && lens[1])
		return mg_err_set(e, "\"%s\": bad prefix length", s);
	len = strtol(lens, NULL, 10);
	if (addr_parse(buf, &out->family, out->addr) < 0)
		return mg_err_set(e, "\"%s\": \"%s\" is not an IPv4 or IPv6 address", s, buf);
	if (len > cidr_max_len(out))
		return mg_err_set(e, "\"%s\": prefix length %ld is more than %d", s, len,
				  cidr_max_len(out));
	out->len = (uint8_t)len;
	if (!(flags & CIDR_ALLOW_HOST_BITS) && host_bits_set(out)) {
		struct cidr n = *out;
		cidr_mask(&n);
		return mg_err_set(e, "\"%s\" has host bits set (did you mean %s?)", s,
				  cidr_format(&n, canon));
	}
	return 0;
}

char *cidr_format_addr(const struct cidr *c, char buf[CIDR_STRLEN])
{
	if (!inet_ntop(c->family, c->addr, buf, CIDR_STRLEN))
		snprintf(buf, CIDR_STRLEN, "?");
	return buf;
}

char *cidr_format(const struct cidr *c, char buf[CIDR_STRLEN])
{
	char a[CIDR_STRLEN];
	/* an address is at most 45 characters, so this never truncates */
	snprintf(buf, CIDR_STRLEN, "%.46s/%u", cidr_format_addr(c, a), (unsigned)c->len);
	return buf;
}

bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
	return cidr_cmp(a, b) == 0;
}

int cidr_cmp(const struct cidr *a, const struct cidr *b)
{
	int r;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, (size_t)cidr_addr_len(a));
	if (r)
		return r < 0 ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

bool cidr_contains_addr(const struct cidr *a, uint8_t family, const uint8_t addr[16])
{
	int full, rem;
	if (a->family != family)
		return false;
	full = a->len / 8;
	rem = a->len % 8;
	if (memcmp(a->addr, addr, (size_t)full))
		return false;
	if (rem) {
		uint8_t m = (uint8_t)(0xff << (8 - rem));
		if ((a->addr[full] & m) != (addr[full] & m))
			return false;
	}
	return true;
}

bool cidr_contains(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->len <= b->len &&
	       cidr_contains_addr(a, b->family, b->addr);
}

bool cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
	return cidr_contains(a, b) || cidr_contains(b, a);
}

static int cidr_qcmp(const void *a, const void *b)
{
	return cidr_cmp(a, b);
}

size_t cidr_sort_unique(struct cidr *v, size_t n)
{
	size_t out = 0;
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cidr_qcmp);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || !cidr_equal(&v[out - 1], &v[i]))
			v[out++] = v[i];
	return out;
}
