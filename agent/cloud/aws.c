/* SPDX-License-Identifier: MIT */
/* The AWS provider: IMDSv2 for identity and role credentials, the EC2 Query API for the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_ec2.h"
#include "aws_imds.h"
#include "cloud.h"
#include "log.h"

struct cloud_provider {
	struct cloud_endpoints ep;
	struct aws_imds imds;
	struct aws_creds creds;
	struct aws_ec2 ec2;
	struct cloud_hooks hooks;
	bool ec2_ready;
	char region[64];
};

static int aws_detect(const struct cloud_endpoints *ep, long timeout_ms)
{
	return aws_imds_probe(ep && ep->metadata[0] ? ep->metadata : NULL, timeout_ms);
}

static struct cloud_provider *aws_open(const struct cloud_endpoints *ep,
				       const struct cloud_hooks *hooks, mg_err *e)
{
	struct cloud_provider *p = calloc(1, sizeof(*p));

	if (!p)
		return mg_err_set(e, "out of memory"), NULL;
	if (ep)
		p->ep = *ep;
	if (hooks)
		p->hooks = *hooks;
	if (aws_imds_init(&p->imds, p->ep.metadata, e)) {
		free(p);
		return NULL;
	}
	return p;
}

static void aws_close(struct cloud_provider *p)
{
	if (!p)
		return;
	aws_imds_cleanup(&p->imds);
	aws_creds_clear(&p->creds);
	free(p);
}

static int aws_refresh(struct cloud_provider *p, bool force, mg_err *e)
{
	time_t now = p->imds.now ? p->imds.now() : time(NULL);

	if (!force && !aws_creds_need_refresh(&p->creds, now))
		return 0;
	struct aws_creds c;
	if (aws_imds_credentials(&p->imds, &c, e)) {
		aws_creds_clear(&c);
		/* keep using the old ones while they last */
		if (p->creds.access_key_id[0] && now < p->creds.expiration) {
			log_warn("AWS role credentials not refreshed: %s", e->msg);
			mg_err_clear(e);
			return 0;
		}
		return -1;
	}
	aws_creds_clear(&p->creds);
	p->creds = c;
	aws_creds_clear(&c);
	return 0;
}

static int creds_cb(void *ud, bool force, struct aws_creds *out, mg_err *e)
{
	struct cloud_provider *p = ud;

	if (aws_refresh(p, force, e))
		return -1;
	*out = p->creds;
	return 0;
}

static int aws_identity(struct cloud_provider *p, struct cloud_identity *id, mg_err *e)
{
	if (aws_imds_identity(&p->imds, id, e))
		return -1;
	if (!p->ec2_ready) {
		if (aws_ec2_init(&p->ec2, id->region, p->ep.api, p->ep.ca_file, creds_cb, p, e))
			return -1;
		snprintf(p->region, sizeof(p->region), "%s", id->region);
		p->ec2.progress = p->hooks.progress;
		p->ec2.progress_ud = p->hooks.ud;
		p->ec2_ready = true;
	}
	return 0;
}

static int need_ec2(struct cloud_provider *p, mg_err *e)
{
	if (!p->ec2_ready)
		return mg_err_set(e, "AWS provider: identity() must come first");
	return 0;
}

static int aws_ensure_forwarding(struct cloud_provider *p, const struct cloud_identity *id,
				 mg_err *e)
{
	struct aws_ec2_error err;
	bool on = true;

	if (need_ec2(p, e))
		return -1;
	if (aws_ec2_get_source_dest_check(&p->ec2, id->nic_id, &on, &err, e) == 0 && !on)
		return 0;
	if (aws_ec2_set_source_dest_check(&p->ec2, id->nic_id, false, &err, e))
		return mg_err_prefix(e, "turning off the source/destination check of %s",
				     id->nic_id);
	if (aws_ec2_get_source_dest_check(&p->ec2, id->nic_id, &on, &err, e))
		return mg_err_prefix(e, "reading back the source/destination check of %s",
				     id->nic_id);
	if (on)
		return mg_err_set(e, "the source/destination check of %s is still on after "
				     "ModifyNetworkInterfaceAttribute", id->nic_id);
	return 0;
}

static int aws_list(struct cloud_provider *p, const struct cloud_identity *id,
		    const char *const *ids, size_t n_ids, struct cloud_route_tables *out,
		    mg_err *e)
{
	struct aws_ec2_error err;

	if (need_ec2(p, e))
		return -1;
	return aws_ec2_describe_route_tables(&p->ec2, id->network_id, ids, n_ids, out, &err, e);
}

static int aws_upsert(struct cloud_provider *p, const struct cloud_identity *id,
		      const char *table, const struct cidr *dst, bool takeover,
		      enum cloud_upsert_result *res, mg_err *e)
{
	struct cloud_route_tables t = {0};
	const struct cloud_route *r;
	struct aws_ec2_error err;
	const char *one[1] = {table};
	char cs[CIDR_STRLEN];
	int rc = -1;

	if (need_ec2(p, e))
		return -1;
	cidr_format(dst, cs);
	if (aws_ec2_create_route(&p->ec2, table, dst, id->nic_id, &err, e) == 0) {
		*res = CLOUD_UPSERT_CREATED;
		return 0;
	}
	if (strcmp(err.code, "RouteAlreadyExists"))
		return -1;
	/* someone has a route for that CIDR: whose? */
	if (aws_ec2_describe_route_tables(&p->ec2, id->network_id, one, 1, &t, &err, e))
		return mg_err_prefix(e, "checking the owner of %s in %s", cs, table);
	r = t.n ? cloud_route_table_find(&t.v[0], dst) : NULL;
	if (r && r->state == CLOUD_ROUTE_ACTIVE && !strcmp(r->nic_id, id->nic_id)) {
		*res = CLOUD_UPSERT_UNCHANGED;
		rc = 0;
	} else if (r && r->state != CLOUD_ROUTE_BLACKHOLE && strcmp(r->nic_id, id->nic_id) &&
		   !takeover) {
		*res = CLOUD_UPSERT_CONFLICT;
		mg_err_set(e, "route %s in %s points at %s, not at this host (%s); left alone",
			   cs, table, r->target_id[0] ? r->target_id : "another target", id->nic_id);
	} else if (aws_ec2_replace_route(&p->ec2, table, dst, id->nic_id, &err, e) == 0) {
		*res = CLOUD_UPSERT_REPLACED;
		rc = 0;
	}
	cloud_route_tables_free(&t);
	return rc;
}

static int aws_delete(struct cloud_provider *p, const char *table, const struct cidr *dst,
		      mg_err *e)
{
	struct aws_ec2_error err;

	if (need_ec2(p, e))
		return -1;
	return aws_ec2_delete_route(&p->ec2, table, dst, &err, e);
}

const struct cloud_provider_ops cloud_aws_ops = {
	.name = "aws",
	.detect = aws_detect,
	.open = aws_open,
	.close = aws_close,
	.identity = aws_identity,
	.refresh_credentials = aws_refresh,
	.ensure_forwarding = aws_ensure_forwarding,
	.list_route_tables = aws_list,
	.upsert_route = aws_upsert,
	.delete_route = aws_delete,
};
