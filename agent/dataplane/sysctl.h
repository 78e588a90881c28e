/* SPDX-License-Identifier: MIT */
/*
 * Router settings through /proc/sys (never the sysctl binary): IPv4/IPv6 forwarding on,
 * reverse-path filtering relaxed on all, default, the LAN and tunnel interfaces
 * (effective rp_filter = max(all, iface), so strict 1 becomes loose 2; 0 stays 0), and
 * accept_ra kept working on IPv6 uplinks once forwarding is on (1 becomes 2).
 * Every prior value is recorded in <state>/sysctl.saved before anything is written; a
 * drop-in (default /etc/sysctl.d/90-meshgate.conf) keeps the values across reboots.
 * Restore puts back a prior value only where the current value is still ours.
 */
#ifndef MG_SYSCTL_H
#define MG_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SYSCTL_DROPIN_DEFAULT "/etc/sysctl.d/90-meshgate.conf"
#define SYSCTL_MAX_KEYS       32

struct sysctl_ctx {
	char state_dir[256];
	char dropin[256];   /* "" disables the drop-in */
	char procroot[128]; /* "/proc/sys" except in unit tests */
};

struct sysctl_key {
	char name[128]; /* dotted form, "net.ipv4.conf.eth0/100.rp_filter" */
	char path[512]; /* file under procroot */
	char want[8];   /* value to write when `relax_from` matches (or always if empty) */
	char relax_from[8];
};

void sysctl_ctx_init(struct sysctl_ctx *c, const char *state_dir, const char *dropin,
		     const char *procroot);

/* The keys meshgate manages for this tunnel and these LAN interfaces. */
size_t sysctl_keys(const struct sysctl_ctx *c, const char *tun, const char *const *lan,
		   size_t n_lan, struct sysctl_key *out, size_t max);

/*
 * Bring every key to its wanted value, recording prior values first, and write the
 * drop-in. Idempotent: also the periodic drift check. *changed counts values written.
 * A key whose file does not exist (no IPv6, interface not there yet) is skipped.
 */
int sysctl_apply(const struct sysctl_ctx *c, const char *tun, const char *const *lan, size_t n_lan,
		 int *changed, mg_err *e);

/*
 * Remove the drop-in and restore each recorded prior value where the current value is
 * still the one meshgate wrote; then forget the record. A second call is a no-op.
 */
int sysctl_restore(const struct sysctl_ctx *c, int *restored, int *kept, mg_err *e);

/* Read one value (trimmed) from a /proc/sys file. */
int sysctl_read(const char *path, char *out, size_t len, mg_err *e);
int sysctl_write(const char *path, const char *value, mg_err *e);

#endif
