/* SPDX-License-Identifier: MIT */
#include "enroll.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "ctlc.h"
#include "log.h"

/*
 * What a refused enrolment made in the state directory goes again: the key file it
 * wrote, and the directory itself when this attempt created it. The caller's error
 * stays as it is.
 */
static void enroll_undo(const char *state_dir, bool made_dir)
{
	char p[PATH_MAX];

	if (state_path(state_dir, "private.key", p, sizeof(p), NULL) == 0 && unlink(p) < 0 &&
	    errno != ENOENT)
		log_warn("removing %s after the refused enrolment: %s", p, strerror(errno));
	if (made_dir && rmdir(state_dir) < 0 && errno != ENOENT)
		log_warn("removing %s after the refused enrolment: %s", state_dir, strerror(errno));
}

static int enroll_exchange(const struct connstr *cs, const char *state_dir, struct agent_state *st,
			   mg_err *e);

int enroll(const struct connstr *cs, const char *state_dir, const char *ca_file, const char *ifname,
	   struct agent_state *st, mg_err *e)
{
	bool made_dir;

	memset(st, 0, sizeof(*st));
	snprintf(st->target.url, sizeof(st->target.url), "%s", cs->url);
	snprintf(st->target.pin, sizeof(st->target.pin), "%s", cs->pin);
	if (ca_file)
		snprintf(st->target.ca_file, sizeof(st->target.ca_file), "%s", ca_file);
	if (ifname)
		snprintf(st->ifname, sizeof(st->ifname), "%s", ifname);

	made_dir = !fs_exists(state_dir);
	if (fs_mkdir_p(state_dir, 0700, e) < 0 || fs_check_writable_dir(state_dir, e) < 0)
		return -1;
	if (enroll_exchange(cs, state_dir, st, e) < 0) {
		enroll_undo(state_dir, made_dir);
		return -1;
	}
	return 0;
}

/* Key pair, the token exchange, the identity saved. */
static int enroll_exchange(const struct connstr *cs, const char *state_dir, struct agent_state *st,
			   mg_err *e)
{
	struct ctlc_enrolment en;
	char pub64[WG_KEY_B64_LEN];

	if (wgkey_generate(st->priv, e) < 0 || wgkey_public(st->priv, st->pub, e) < 0)
		return -1;
	/* the key is on disk before the controller ever hears of its public half */
	if (state_save_key(state_dir, st->priv, e) < 0)
		return -1;
	wgkey_to_base64(st->pub, pub64);
	log_debug("enrolling with %s", st->target.url);
	if (ctlc_enroll(&st->target, cs->token, pub64, &en, e) != CTLC_OK)
		return -1;
	snprintf(st->device_id, sizeof(st->device_id), "%s", en.device_id);
	snprintf(st->secret, sizeof(st->secret), "%s", en.device_secret);
	snprintf(st->network_id, sizeof(st->network_id), "%s", en.network_id);
	wgkey_wipe(&en, sizeof(en));
	st->enrolled_at = (int64_t)time(NULL);
	if (state_save(state_dir, st, e) < 0)
		return mg_err_prefix(e, "enrolled as %s but could not save the identity",
				     st->device_id);
	return 0;
}
