/* SPDX-License-Identifier: MIT */
#include "check_cloud.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct deadline {
	struct timespec end;
};

static bool past(void *ud)
{
	const struct deadline *d = ud;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > d->end.tv_sec ||
	       (now.tv_sec == d->end.tv_sec && now.tv_nsec >= d->end.tv_nsec);
}

static bool never(void *ud)
{
	(void)ud;
	return false;
}

/* What each cloud calls its forwarding switch, and its "forwards" state. */
static const char *switch_on(const char *provider)
{
	if (!strcmp(provider, "aws"))
		return "source/destination check off";
	if (!strcmp(provider, "azure"))
		return "enableIPForwarding on";
	if (!strcmp(provider, "gcp"))
		return "canIpForward true";
	if (!strcmp(provider, "oci"))
		return "skipSourceDestCheck true";
	return "forwarding on";
}

enum check_cloud_verdict check_cloud(const struct check_cloud_opts *o, char *detail, size_t len)
{
	const struct cloud_provider_ops *ops;
	struct deadline dl;
	struct cloud_open_opts oo = {.ep = o->sel.ep};
	struct cloud_identity id;
	struct cloud_provider *p;
	enum check_cloud_verdict v = CHECK_CLOUD_FAIL;
	mg_err e = {""};
	long ms = o->timeout_ms > 0 ? o->timeout_ms : 20000;

	switch (cloud_select_resolve(&o->sel, 500, &ops, &e)) {
	case CLOUD_SELECT_FOUND:
		break;
	case CLOUD_SELECT_OFF:
		snprintf(detail, len, "%s", e.msg);
		return CHECK_CLOUD_SKIP;
	case CLOUD_SELECT_NOCLOUD:
		snprintf(detail, len, "not a cloud VM (%s)", e.msg);
		return CHECK_CLOUD_SKIP;
	case CLOUD_SELECT_UNKNOWN:
		snprintf(detail, len, "%s", e.msg);
		return CHECK_CLOUD_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &dl.end);
	dl.end.tv_sec += ms / 1000;
	dl.end.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.end.tv_nsec >= 1000000000L) {
		dl.end.tv_sec++;
		dl.end.tv_nsec -= 1000000000L;
	}
	/* may_write never true: a driver reads the switch and reports it, never flips it */
	oo.hooks = (struct cloud_hooks){.aborted = past, .may_write = never, .ud = &dl};
	p = ops->open(&oo, &e);
	if (!p) {
		snprintf(detail, len, "%s: %s", ops->name, e.msg);
		return CHECK_CLOUD_FAIL;
	}
	if (ops->identity(p, &id, &e) < 0 || ops->refresh_credentials(p, false, &e) < 0) {
		snprintf(detail, len, "%s: %s%s", ops->name, e.msg,
			 past(&dl) ? " (gave up: the check's time ran out)" : "");
		goto out;
	}
	if (ops->ensure_forwarding(p, &id, &e) < 0) {
		snprintf(detail, len, "%s: instance %s, NIC %s, network %s: %s%s", ops->name,
			 id.instance_id, id.nic_id, id.network_id, e.msg,
			 past(&dl) ? " (gave up: the check's time ran out)" : "");
		goto out;
	}
	snprintf(detail, len, "%s: instance %s, NIC %s (%s), network %s, %s: %s", ops->name,
		 id.instance_id, id.nic_id, id.private_ip, id.network_id, id.region,
		 switch_on(ops->name));
	v = CHECK_CLOUD_OK;
out:
	ops->close(p);
	return v;
}
