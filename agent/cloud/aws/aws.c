/* SPDX-License-Identifier: MIT */
/*
 * The AWS provider: IMDSv2 for identity and role credentials, the EC2 Query API for the rest.
 * Scopes are the VPC's route tables; a route is keyed by (table, destination). EC2 routes
 * carry no tags, so ownership is the agent's record plus "targets this host's ENI"; the
 * table's local route and propagated routes are the cloud's own. Plans are applied one
 * call per item: CreateRoute, ReplaceRoute, DeleteRoute.
 */
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
	struct httpc_abort abort; /* hooks.aborted for the HTTP clients */
	bool ec2_ready;
	char region[64];
};

static int aws_detect(const struct cloud_endpoints *ep, long timeout_ms)
{
	return aws_imds_probe(ep && ep->metadata[0] ? ep->metadata : NULL, timeout_ms);
}

static bool hooks_aborted(void *ud)
{
	return cloud_aborted(ud);
}

static struct cloud_provider *aws_open(const struct cloud_open_opts *o, mg_err *e)
{
	struct cloud_provider *p = calloc(1, sizeof(*p));

	if (!p)
		return mg_err_set(e, "out of memory"), NULL;
	if (o) {
		p->ep = o->ep;
		p->hooks = o->hooks;
	}
	p->abort = (struct httpc_abort){hooks_aborted, &p->hooks};
	if (aws_imds_init(&p->imds, p->ep.metadata, e)) {
		free(p);
		return NULL;
	}
	p->imds.abort = p->abort;
	return p;
}

static void aws_close(struct cloud_provider *p)
{
	if (!p)
		return;
	aws_imds_cleanup(&p->imds);
	aws_ec2_close(&p->ec2);
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
		p->ec2.abort = p->abort;
		p->ec2.hooks = &p->hooks;
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
	if (!cloud_may_write(&p->hooks))
		return mg_err_set(e,
				  "the source/destination check of %s is on; not turning it "
				  "off while writes are not allowed",
				  id->nic_id);
	if (aws_ec2_set_source_dest_check(&p->ec2, id->nic_id, false, &err, e))
		return mg_err_prefix(e, "turning off the source/destination check of %s",
				     id->nic_id);
	if (aws_ec2_get_source_dest_check(&p->ec2, id->nic_id, &on, &err, e))
		return mg_err_prefix(e, "reading back the source/destination check of %s",
				     id->nic_id);
	if (on)
		return mg_err_set(e,
				  "the source/destination check of %s is still on after "
				  "ModifyNetworkInterfaceAttribute",
				  id->nic_id);
	return 0;
}

/* The provider-neutral kind of an EC2 error. */
static enum cloud_err_kind kind_of(const struct aws_ec2_error *err, char *perm, size_t perm_len)
{
	const char *c = err->code;
	size_t cl = strlen(c);

	perm[0] = '\0';
	if (err->aborted)
		return CLOUD_ERR_ABORTED;
	if (!strcmp(c, "UnauthorizedOperation")) {
		snprintf(perm, perm_len, "ec2:%s", err->action);
		return CLOUD_ERR_UNAUTHORIZED;
	}
	if (err->auth)
		return CLOUD_ERR_UNAUTHORIZED;
	if (!strcmp(c, "RequestLimitExceeded") || !strcmp(c, "Throttling") ||
	    !strcmp(c, "ThrottlingException"))
		return CLOUD_ERR_THROTTLED;
	if (!strcmp(c, "RouteLimitExceeded") || !strcmp(c, "RouteTableLimitExceeded"))
		return CLOUD_ERR_LIMIT;
	if (cl > 9 && !strcmp(c + cl - 9, ".NotFound"))
		return CLOUD_ERR_NOT_FOUND;
	if (!strcmp(c, "RouteAlreadyExists"))
		return CLOUD_ERR_CONFLICT;
	if (err->retryable)
		return CLOUD_ERR_TRANSIENT;
	return CLOUD_ERR_FATAL;
}

static void to_cloud_err(const struct aws_ec2_error *err, const mg_err *e, struct cloud_err *ce)
{
	ce->kind = kind_of(err, ce->permission, sizeof(ce->permission));
	ce->e = *e;
}

/* Doctor: the source/destination check, read only. */
static int aws_read_forwarding(struct cloud_provider *p, const struct cloud_identity *id, bool *on,
			       struct cloud_err *ce)
{
	struct aws_ec2_error err;
	bool sdc = true;

	memset(&err, 0, sizeof(err));
	if (need_ec2(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	if (aws_ec2_get_source_dest_check(&p->ec2, id->nic_id, &sdc, &err, &ce->e)) {
		to_cloud_err(&err, &ce->e, ce);
		return -1;
	}
	*on = !sdc;
	return 0;
}

static int aws_list(struct cloud_provider *p, const struct cloud_identity *id,
		    const char *const *ids, size_t n_ids, struct cloud_scopes *out,
		    struct cloud_err *ce)
{
	struct aws_ec2_error err;

	memset(&err, 0, sizeof(err));
	if (need_ec2(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	if (aws_ec2_describe_route_tables(&p->ec2, id->network_id, ids, n_ids, out, &err, &ce->e)) {
		to_cloud_err(&err, &ce->e, ce);
		if (!err.code[0] && !err.aborted && !err.retryable && err.http_status == 0)
			ce->kind = CLOUD_ERR_FATAL; /* a malformed answer */
		return -1;
	}
	return 0;
}

/* Does this route send traffic to this very host? */
static bool targets_us(const struct cloud_route *r, const struct cloud_identity *id)
{
	if (id->nic_id[0] && !strcmp(r->nic_id, id->nic_id))
		return true;
	if (r->target_kind == CLOUD_TARGET_NIC && id->nic_id[0] &&
	    !strcmp(r->target_id, id->nic_id))
		return true;
	return r->target_kind == CLOUD_TARGET_INSTANCE && id->instance_id[0] &&
	       !strcmp(r->target_id, id->instance_id);
}

/*
 * The table's local route (origin CreateRouteTable) and routes propagated from a virtual
 * private gateway are the cloud's own. Ours: whatever targets this host's ENI (or instance),
 * and a route our record says we created that is no longer active (a blackhole of ours).
 * EC2 routes have no marker, so r->marker stays empty.
 */
static void aws_classify(struct cloud_provider *p, const struct cloud_identity *id,
			 const struct cloud_scope *s, struct cloud_route *r, bool recorded)
{
	(void)p, (void)s;
	r->to_us = targets_us(r, id);
	if (!strcmp(r->origin, "CreateRouteTable") ||
	    !strcmp(r->origin, "EnableVgwRoutePropagation"))
		r->owner = CLOUD_OWNER_SYSTEM;
	else if (r->to_us || (recorded && r->state != CLOUD_ROUTE_ACTIVE))
		r->owner = CLOUD_OWNER_OURS;
	else
		r->owner = CLOUD_OWNER_FOREIGN;
}

/* One call per item. A create that finds the destination taken, or a replace that finds
 * it gone, means the table changed since it was listed: PRECONDITION. */
static int aws_apply(struct cloud_provider *p, const struct cloud_identity *id,
		     struct cloud_plan *plan, struct cloud_err *ce)
{
	const char *table = plan->scope->id;

	if (need_ec2(p, &ce->e))
		return cloud_err_set(ce, CLOUD_ERR_FATAL, NULL, "%s", ce->e.msg);
	for (size_t i = 0; i < plan->n; i++) {
		struct cloud_plan_item *it = &plan->items[i];
		struct aws_ec2_error err;
		mg_err e = {""};
		int rc;

		if (cloud_aborted(&p->hooks))
			break; /* the rest stays "not attempted" */
		if (!cloud_may_write(&p->hooks)) {
			cloud_err_set(&it->res, CLOUD_ERR_ABORTED, NULL, "writes not allowed now");
			continue;
		}
		memset(&err, 0, sizeof(err));
		switch (it->op) {
		case CLOUD_OP_CREATE:
			rc = aws_ec2_create_route(&p->ec2, table, &it->dst, id->nic_id, &err, &e);
			break;
		case CLOUD_OP_REPLACE:
			rc = aws_ec2_replace_route(&p->ec2, table, &it->dst, id->nic_id, &err, &e);
			break;
		default:
			rc = aws_ec2_delete_route(&p->ec2, table, &it->dst, &err, &e);
			break;
		}
		if (rc == 0) {
			it->res = (struct cloud_err){.kind = CLOUD_OK};
			continue;
		}
		to_cloud_err(&err, &e, &it->res);
		if ((it->op == CLOUD_OP_CREATE && !strcmp(err.code, "RouteAlreadyExists")) ||
		    (it->op == CLOUD_OP_REPLACE && !strcmp(err.code, "InvalidRoute.NotFound")))
			it->res.kind = CLOUD_ERR_PRECONDITION;
	}
	return 0;
}

static void aws_credential(struct cloud_provider *p, char *text, size_t len, time_t *expires)
{
	bool have = p->creds.access_key_id[0] != '\0';

	snprintf(text, len, "%s%s", have && p->imds.role[0] ? "instance role " : "",
		 have ? p->imds.role : "");
	*expires = have ? p->creds.expiration : 0;
}

const struct cloud_provider_ops cloud_aws_ops = {
    .name = "aws",
    .detect = aws_detect,
    .open = aws_open,
    .close = aws_close,
    .identity = aws_identity,
    .refresh_credentials = aws_refresh,
    .ensure_forwarding = aws_ensure_forwarding,
    .read_forwarding = aws_read_forwarding,
    .list_scopes = aws_list,
    .classify = aws_classify,
    .apply_plan = aws_apply,
    .credential = aws_credential,
};
