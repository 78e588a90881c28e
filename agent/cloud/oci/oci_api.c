/* SPDX-License-Identifier: MIT */
#include "oci_api.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud_calls.h"
#include "buf.h"
#include "jsonu.h"
#include "log.h"
#include "oci_sign.h"

/* ---------------------------------------------------------------- parsers */

/* cJSON turns \u0000 into a NUL and cuts the string there: such a document could not be
 * sent back unchanged, so it is refused (also an escaped backslash before "u0000", to be
 * safe). */
static int no_nul_escape(const char *buf, size_t len, mg_err *e)
{
	for (size_t i = 0; i + 6 <= len; i++)
		if (buf[i] == '\\' && (buf[i + 1] == 'u' || buf[i + 1] == 'U') &&
		    !memcmp(buf + i + 2, "0000", 4))
			return mg_err_set(e, "a string holds a NUL character");
	return 0;
}

static cJSON *parse_obj(const char *buf, size_t len, const char *what, mg_err *e)
{
	cJSON *j;

	if (!buf)
		return mg_err_set(e, "%s: empty answer", what), NULL;
	if (no_nul_escape(buf, len, e))
		return mg_err_prefix(e, "%s", what), NULL;
	j = jsonu_parse(buf, len, OCI_JSON_MAX, e);
	if (!j)
		mg_err_prefix(e, "%s", what);
	return j;
}

/* A list answer (a JSON array at the root): wrapped so jsonu_parse's checks apply. */
static cJSON *parse_list(const char *buf, size_t len, const char *what, const cJSON **arr,
			 mg_err *e)
{
	struct mg_buf w = {.max = OCI_JSON_MAX + 16};
	cJSON *j;
	char *s;

	if (!buf || len > OCI_JSON_MAX)
		return mg_err_set(e, "%s: empty or too large answer", what), NULL;
	mg_buf_add(&w, "{\"v\":");
	mg_buf_addn(&w, buf, len);
	mg_buf_add(&w, "}");
	s = mg_buf_take(&w);
	if (!s)
		return mg_err_set(e, "out of memory"), NULL;
	j = parse_obj(s, strlen(s), what, e);
	free(s);
	if (!j)
		return NULL;
	*arr = cJSON_GetObjectItemCaseSensitive(j, "v");
	if (!cJSON_IsArray(*arr)) {
		cJSON_Delete(j);
		return mg_err_set(e, "%s: not a JSON array", what), NULL;
	}
	return j;
}

void oci_parse_error(const char *buf, size_t len, struct oci_error *err)
{
	mg_err e;
	cJSON *j;

	err->code[0] = err->message[0] = '\0';
	if (!buf || !len || len > 65536)
		return;
	j = jsonu_parse(buf, len, 65536, &e);
	if (!j)
		return;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "code");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (cJSON_IsString(c))
		snprintf(err->code, sizeof(err->code), "%s", c->valuestring);
	if (cJSON_IsString(m))
		snprintf(err->message, sizeof(err->message), "%s", m->valuestring);
	/* codes are identifiers: anything else is dropped */
	for (const char *s = err->code; *s; s++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", *s)) {
			err->code[0] = '\0';
			break;
		}
	for (char *s = err->message; *s; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
	cJSON_Delete(j);
}

int oci_parse_vnic(const char *buf, size_t len, bool *skip_sdc, char *subnet_id, size_t subnet_len,
		   mg_err *e)
{
	cJSON *j = parse_obj(buf, len, "GetVnic", e);
	int rc = -1;

	if (!j)
		return -1;
	if (jsonu_get_bool(j, "skipSourceDestCheck", true, skip_sdc, e) == 0 &&
	    (!subnet_id || jsonu_copy_str(j, "subnetId", true, subnet_id, subnet_len, e) == 0))
		rc = 0;
	cJSON_Delete(j);
	return rc ? mg_err_prefix(e, "GetVnic") : 0;
}

int oci_parse_private_ips(const char *buf, size_t len, const char *ip, char *id, size_t idlen,
			  mg_err *e)
{
	const cJSON *arr, *it;
	cJSON *j = parse_list(buf, len, "ListPrivateIps", &arr, e);
	int rc = -1;

	if (!j)
		return -1;
	id[0] = '\0';
	cJSON_ArrayForEach(it, arr)
	{
		char addr[64] = "", oid[CLOUD_ID_LEN] = "";
		bool primary = false;
		if (!cJSON_IsObject(it)) {
			mg_err_set(e, "ListPrivateIps: an item is not an object");
			goto out;
		}
		if (jsonu_copy_str(it, "id", true, oid, sizeof(oid), e) ||
		    jsonu_copy_str(it, "ipAddress", true, addr, sizeof(addr), e) ||
		    jsonu_get_bool(it, "isPrimary", false, &primary, e)) {
			mg_err_prefix(e, "ListPrivateIps");
			goto out;
		}
		if ((ip && !strcmp(addr, ip)) || (!ip && primary)) {
			if (strlen(oid) >= idlen) {
				mg_err_set(e, "ListPrivateIps: id too long");
				goto out;
			}
			strcpy(id, oid);
			break;
		}
	}
	if (!id[0]) {
		mg_err_set(e, "ListPrivateIps: no private IP %s on the VNIC",
			   ip ? ip : "(primary)");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

int oci_parse_subnet(const char *buf, size_t len, char *vcn_id, size_t vcn_len, char *rt_id,
		     size_t rt_len, mg_err *e)
{
	cJSON *j = parse_obj(buf, len, "GetSubnet", e);
	int rc = -1;

	if (!j)
		return -1;
	if (jsonu_copy_str(j, "vcnId", true, vcn_id, vcn_len, e) == 0 &&
	    jsonu_copy_str(j, "routeTableId", true, rt_id, rt_len, e) == 0)
		rc = 0;
	cJSON_Delete(j);
	return rc ? mg_err_prefix(e, "GetSubnet") : 0;
}

int oci_parse_subnets(const char *buf, size_t len, char (*ids)[CLOUD_ID_LEN], size_t *n, size_t max,
		      mg_err *e)
{
	const cJSON *arr, *it;
	cJSON *j = parse_list(buf, len, "ListSubnets", &arr, e);
	int rc = -1;

	if (!j)
		return -1;
	cJSON_ArrayForEach(it, arr)
	{
		char rt[CLOUD_ID_LEN];
		bool seen = false;
		if (!cJSON_IsObject(it)) {
			mg_err_set(e, "ListSubnets: an item is not an object");
			goto out;
		}
		if (jsonu_copy_str(it, "routeTableId", true, rt, sizeof(rt), e)) {
			mg_err_prefix(e, "ListSubnets");
			goto out;
		}
		for (size_t i = 0; i < *n && !seen; i++)
			seen = !strcmp(ids[i], rt);
		if (seen)
			continue;
		if (*n >= max) {
			mg_err_set(e, "ListSubnets: more than %zu route tables", max);
			goto out;
		}
		memcpy(ids[(*n)++], rt, sizeof(rt));
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

int oci_parse_vcn(const char *buf, size_t len, struct cidr *cidrs, size_t *n, size_t max, mg_err *e)
{
	cJSON *j = parse_obj(buf, len, "GetVcn", e);
	const cJSON *arr = NULL, *it;
	const char *one = NULL;
	int rc = -1;

	if (!j)
		return -1;
	*n = 0;
	if (jsonu_get_array(j, "cidrBlocks", false, max, &arr, e) ||
	    jsonu_get_str(j, "cidrBlock", false, 64, &one, e))
		goto out;
	if (!arr && !one) {
		mg_err_set(e, "neither cidrBlocks nor cidrBlock");
		goto out;
	}
	if (arr) {
		cJSON_ArrayForEach(it, arr)
		{
			if (!cJSON_IsString(it) || cidr_parse(it->valuestring, &cidrs[*n], 0, e))
				goto bad;
			(*n)++;
		}
	} else {
		if (cidr_parse(one, &cidrs[0], 0, e))
			goto bad;
		*n = 1;
	}
	rc = 0;
	goto out;
bad:
	mg_err_set(e, "cidrBlocks holds something that is not a CIDR");
out:
	cJSON_Delete(j);
	return rc ? mg_err_prefix(e, "GetVcn") : 0;
}

bool oci_marker_parse(const char *desc, struct cloud_mesh_id *out)
{
	size_t ml = strlen(OCI_MARKER), nl;
	const char *p, *c;

	memset(out, 0, sizeof(*out));
	if (!desc || strncmp(desc, OCI_MARKER, ml))
		return false;
	p = desc + ml;
	c = strchr(p, ':');
	nl = c ? (size_t)(c - p) : strlen(p);
	if (!nl || nl >= sizeof(out->network))
		return false;
	memcpy(out->network, p, nl);
	if (c) {
		size_t cl = strcspn(c + 1, " ");
		if (cl >= sizeof(out->connector))
			return false;
		memcpy(out->connector, c + 1, cl);
	}
	return true;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Copy at most outlen-1 bytes, cut on a UTF-8 character boundary. */
static void copy_cut(char *out, size_t outlen, const char *s)
{
	size_t n = strlen(s);

	if (n >= outlen) {
		n = outlen - 1;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

static enum cloud_target_kind kind_of_entity(const char *id)
{
	static const char *const gw[] = {"ocid1.drg.", "ocid1.internetgateway.",
					 "ocid1.natgateway.", "ocid1.servicegateway.",
					 "ocid1.localpeeringgateway."};

	if (!strncmp(id, "ocid1.privateip.", 16))
		return CLOUD_TARGET_IP;
	for (size_t i = 0; i < MG_ARRAY_SIZE(gw); i++)
		if (!strncmp(id, gw[i], strlen(gw[i])))
			return CLOUD_TARGET_GATEWAY;
	return CLOUD_TARGET_OTHER;
}

static int parse_rule(const cJSON *it, struct cloud_route *r, mg_err *e)
{
	const char *dst = NULL, *dtype = NULL, *ent = NULL, *desc = NULL, *rtype = NULL;

	if (!cJSON_IsObject(it))
		return mg_err_set(e, "a route rule is not an object");
	if (jsonu_get_str(it, "destination", false, 256, &dst, e) ||
	    jsonu_get_str(it, "destinationType", false, 64, &dtype, e) ||
	    jsonu_get_str(it, "networkEntityId", true, CLOUD_ID_LEN - 1, &ent, e) ||
	    jsonu_get_str(it, "description", false, 4 * OCI_DESC_MAX, &desc, e) ||
	    jsonu_get_str(it, "routeType", false, 31, &rtype, e))
		return -1;
	if (!dst && jsonu_get_str(it, "cidrBlock", true, 256, &dst, e))
		return -1;
	if (desc && utf8_chars(desc) > OCI_DESC_MAX)
		return mg_err_set(e, "a rule description is over %d characters", OCI_DESC_MAX);
	if (!dtype || !strcmp(dtype, "CIDR_BLOCK")) {
		if (cidr_parse(dst, &r->dst, 0, e))
			return mg_err_prefix(e, "route rule destination");
		r->has_dst = true;
	} else if (strcmp(dtype, "SERVICE_CIDR_BLOCK")) {
		return mg_err_set(e, "unknown destinationType \"%.32s\"", dtype);
	}
	snprintf(r->target_id, sizeof(r->target_id), "%s", ent);
	r->target_kind = kind_of_entity(ent);
	r->state = CLOUD_ROUTE_ACTIVE;
	snprintf(r->origin, sizeof(r->origin), "%s", rtype ? rtype : "STATIC");
	if (desc)
		copy_cut(r->description, sizeof(r->description), desc);
	return 0;
}

int oci_parse_route_table(const char *buf, size_t len, struct cloud_scope *s, cJSON **rules,
			  mg_err *e)
{
	cJSON *j = parse_obj(buf, len, "GetRouteTable", e);
	const cJSON *arr = NULL, *it;
	int rc = -1;

	if (rules)
		*rules = NULL;
	if (!j)
		return -1;
	if (jsonu_copy_str(j, "id", true, s->id, sizeof(s->id), e) ||
	    jsonu_copy_str(j, "vcnId", false, s->network_id, sizeof(s->network_id), e) ||
	    jsonu_get_array(j, "routeRules", true, CLOUD_MAX_ROUTES, &arr, e))
		goto out;
	cJSON_ArrayForEach(it, arr)
	{
		struct cloud_route *r = cloud_scope_add_route(s, e);
		if (!r || parse_rule(it, r, e))
			goto out;
	}
	if (rules) {
		*rules = cJSON_DetachItemFromObjectCaseSensitive(j, "routeRules");
		if (!*rules) {
			mg_err_set(e, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc ? mg_err_prefix(e, "GetRouteTable %s", s->id[0] ? s->id : "") : 0;
}

/* ---------------------------------------------------------------- calls */

int oci_api_init(struct oci_api *a, const char *region, const char *realm, mg_err *e)
{
	uint8_t r[6];
	int n;

	n = snprintf(a->host, sizeof(a->host), "iaas.%s.%s", region, realm);
	if (n < 0 || (size_t)n >= sizeof(a->host))
		return mg_err_set(e, "API host name too long");
	if (a->max_attempts <= 0)
		a->max_attempts = 7;
	if (a->backoff_base_ms <= 0)
		a->backoff_base_ms = 200;
	if (a->backoff_cap_ms <= 0)
		a->backoff_cap_ms = 5000;
	if (RAND_bytes(r, sizeof(r)) != 1)
		return mg_err_set(e, "OpenSSL: no random bytes");
	snprintf(a->rid_prefix, sizeof(a->rid_prefix), "meshgate-%02x%02x%02x%02x%02x%02x", r[0],
		 r[1], r[2], r[3], r[4], r[5]);
	return 0;
}

long oci_backoff_ms(long base, long cap, int attempt, uint32_t r)
{
	long d = base;

	for (int i = 0; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	return d / 2 + (long)(r % (uint32_t)(d / 2 + 1));
}

enum cloud_err_kind oci_err_kind(const struct oci_error *err)
{
	const char *c = err->code;

	if (err->aborted)
		return CLOUD_ERR_ABORTED;
	if (err->status == 0)
		return CLOUD_ERR_TRANSIENT;
	if (err->status == 401 || (err->status == 404 && !strcmp(c, "NotAuthorizedOrNotFound")) ||
	    err->status == 403)
		return CLOUD_ERR_UNAUTHORIZED;
	if (err->status == 404)
		return CLOUD_ERR_NOT_FOUND;
	if (err->status == 412)
		return CLOUD_ERR_PRECONDITION;
	if (err->status == 429)
		return CLOUD_ERR_THROTTLED;
	if (!strcmp(c, "LimitExceeded"))
		return CLOUD_ERR_LIMIT;
	if (err->status == 409)
		return !strcmp(c, "IncorrectState") || !strcmp(c, "LockConflict")
			   ? CLOUD_ERR_TRANSIENT
			   : CLOUD_ERR_CONFLICT;
	if (err->status >= 500 && err->status != 501)
		return CLOUD_ERR_TRANSIENT;
	return CLOUD_ERR_FATAL;
}

/*
 * The grants the driver needs: one row per (operation, grant). This table is
 * the source of truth for cloud/oracle/iam-policy.txt (tests/system/cloud_checks.py
 * parses these rows and compares them with the policy's statements) and for the
 * statement a NotAuthorizedOrNotFound error suggests. `perm` narrows the grant
 * with request.permission ("" = the whole verb).
 */
const struct oci_grant oci_grants[] = {
    {"GetVnic", "read vnics", ""},
    {"UpdateVnic", "use vnics", "VNIC_UPDATE"},
    {"ListPrivateIps", "read private-ips", ""},
    {"GetSubnet", "read subnets", ""},
    {"ListSubnets", "read subnets", ""},
    {"GetVcn", "read vcns", ""},
    {"GetRouteTable", "read route-tables", ""},
    {"UpdateRouteTable", "manage route-tables", "ROUTE_TABLE_UPDATE"},
    {"UpdateRouteTable", "manage private-ips", "PRIVATE_IP_ROUTE_TABLE_ATTACH"},
    {"UpdateRouteTable", "manage private-ips", "PRIVATE_IP_ROUTE_TABLE_DETACH"},
};
const size_t oci_grants_n = sizeof(oci_grants) / sizeof(oci_grants[0]);

void oci_policy_for(const char *op, const char *compartment, char *out, size_t outlen)
{
	const struct oci_grant *g = NULL;
	const char *where = "";

	for (size_t i = 0; i < oci_grants_n && !g; i++)
		if (!strcmp(op, oci_grants[i].op))
			g = &oci_grants[i];
	if (g && g->perm[0])
		where = " where request.permission = '";
	snprintf(out, outlen,
		 "Allow dynamic-group meshgate-connectors to %s in compartment id %s%s%s%s",
		 g ? g->grant : "read virtual-network-family",
		 compartment && compartment[0] ? compartment : "<compartment>", where,
		 g ? g->perm : "", where[0] ? "'" : "");
}

static bool retryable(const struct oci_error *err)
{
	if (err->aborted)
		return false;
	if (err->status == 0 || err->status == 429)
		return true;
	if (err->status == 409)
		return !strcmp(err->code, "IncorrectState") || !strcmp(err->code, "LockConflict");
	return err->status >= 500 && err->status != 501;
}

static time_t api_now(const struct oci_api *a)
{
	return a->now ? a->now() : time(NULL);
}

/* One signed attempt. */
static int attempt(struct oci_api *a, const char *method, const char *target, const char *body,
		   const char *if_match, const char *rid, EVP_PKEY *key, const char *token,
		   struct oci_resp *r, mg_err *e)
{
	char url[CLOUD_URL_LEN + 2048], date[40], clen[24], sha[48];
	char h_date[64], h_host[CLOUD_URL_LEN + 8], h_ct[48], h_sha[72], h_cl[48], h_im[160],
	    h_rid[128];
	struct mg_buf kid = {.max = 20000, .secret = true};
	const char *hl[8];
	size_t nh = 0;
	bool has_body = strcmp(method, "GET") && strcmp(method, "DELETE");
	size_t blen = body ? strlen(body) : 0;
	char *auth = NULL, *h_auth = NULL, *k;
	int rc = -1;

	if (snprintf(url, sizeof(url), "https://%s%s", a->host, target) >= (int)sizeof(url))
		return mg_err_set(e, "request URL too long");
	oci_http_date(api_now(a), date);
	snprintf(clen, sizeof(clen), "%zu", blen);
	if (has_body && oci_body_sha256_b64(body, blen, sha, e))
		return -1;
	struct oci_hdr sh[6] = {
	    {"date", date},
	    {"(request-target)", NULL},
	    {"host", a->host},
	    {"content-length", clen},
	    {"content-type", "application/json"},
	    {"x-content-sha256", sha},
	};
	mg_buf_addf(&kid, "ST$%s", token);
	k = mg_buf_take(&kid);
	if (!k)
		return mg_err_set(e, "out of memory");
	auth = oci_authorization(key, k, method, target, sh, has_body ? 6 : 3, e);
	free(k);
	if (!auth)
		return -1;
	h_auth = malloc(strlen(auth) + 24);
	if (!h_auth)
		goto oom;
	sprintf(h_auth, "authorization: %s", auth);
	snprintf(h_date, sizeof(h_date), "date: %s", date);
	snprintf(h_host, sizeof(h_host), "host: %s", a->host);
	snprintf(h_rid, sizeof(h_rid), "opc-request-id: %s", rid);
	hl[nh++] = h_date;
	hl[nh++] = h_host;
	hl[nh++] = h_rid;
	hl[nh++] = h_auth;
	if (has_body) {
		snprintf(h_ct, sizeof(h_ct), "content-type: application/json");
		snprintf(h_sha, sizeof(h_sha), "x-content-sha256: %s", sha);
		snprintf(h_cl, sizeof(h_cl), "content-length: %s", clen);
		hl[nh++] = h_ct;
		hl[nh++] = h_sha;
		hl[nh++] = h_cl;
	}
	if (if_match && if_match[0]) {
		snprintf(h_im, sizeof(h_im), "if-match: %s", if_match);
		hl[nh++] = h_im;
	}
	rc = oci_http_do(&a->http, method, url, hl, nh, body, blen, r, e);
	goto out;
oom:
	mg_err_set(e, "out of memory");
out:
	if (auth) {
		free(auth);
	}
	free(h_auth);
	return rc;
}

int oci_call(struct oci_api *a, const char *op, const char *method, const char *target,
	     const char *body, const char *if_match, struct oci_resp *out, struct oci_error *err,
	     struct cloud_err *ce)
{
	bool forced = false, mutating = strcmp(method, "GET") != 0;
	char rid[64], srv_date[40] = "";
	time_t signed_at = 0;
	uint32_t rnd;
	mg_err e = {""};

	memset(err, 0, sizeof(*err));
	memset(out, 0, sizeof(*out));
	snprintf(rid, sizeof(rid), "%s-%u", a->rid_prefix, ++a->seq);
	for (int n = 0;; n++) {
		EVP_PKEY *key = NULL;
		const char *token = NULL;
		struct oci_resp r;

		if (cloud_aborted(a->hooks)) {
			err->aborted = true;
			return cloud_err_set(ce, CLOUD_ERR_ABORTED, NULL, "%s: aborted", op);
		}
		if (mutating && !cloud_may_write(a->hooks)) {
			err->aborted = true;
			return cloud_err_set(ce, CLOUD_ERR_ABORTED, NULL,
					     "%s: writes not allowed now", op);
		}
		if (a->creds(a->creds_ud, false, &key, &token, &e))
			return cloud_err_set(ce, CLOUD_ERR_UNAUTHORIZED, NULL,
					     "%s: no OCI credentials: %s", op, e.msg);
		memset(err, 0, sizeof(*err));
		signed_at = api_now(a);
		if (attempt(a, method, target, body, if_match, rid, key, token, &r, &e)) {
			err->aborted = r.aborted;
			snprintf(err->message, sizeof(err->message), "%s", e.msg);
			if (!r.aborted)
				cloud_call_count(a->hooks, "oci", op, 0, false);
		} else {
			err->status = r.status;
			cloud_call_count(a->hooks, "oci", op, r.status, false);
			snprintf(err->request_id, sizeof(err->request_id), "%s",
				 r.request_id[0] ? r.request_id : rid);
			if (r.status >= 200 && r.status < 300) {
				*out = r;
				return 0;
			}
			oci_parse_error(r.body, r.len, err);
			snprintf(srv_date, sizeof(srv_date), "%s", r.date);
			oci_resp_free(&r);
			if (r.status == 401 && !forced) {
				/* the token expired or was revoked: federate once, then retry */
				forced = true;
				log_info("OCI %s: 401 NotAuthenticated (opc-request-id %s); "
					 "federating again",
					 op, err->request_id);
				if (a->creds(a->creds_ud, true, &key, &token, &e))
					return cloud_err_set(ce, CLOUD_ERR_UNAUTHORIZED, NULL,
							     "%s: federation failed: %s", op,
							     e.msg);
				n--;
				continue;
			}
		}
		if (!retryable(err) || n + 1 >= a->max_attempts)
			break;
		if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
			rnd = (uint32_t)n * 2654435761u;
		long ms = oci_backoff_ms(a->backoff_base_ms, a->backoff_cap_ms, n, rnd);
		log_debug("OCI %s: HTTP %ld %s (opc-request-id %s); retry in %ld ms", op,
			  err->status, err->code, err->request_id, ms);
		if (!cloud_sleep_ms(a->hooks, ms)) {
			err->aborted = true;
			return cloud_err_set(ce, CLOUD_ERR_ABORTED, NULL, "%s: aborted", op);
		}
	}
	enum cloud_err_kind k = oci_err_kind(err);
	char perm[320] = "", grant[96] = "";
	if (k == CLOUD_ERR_UNAUTHORIZED && err->status == 404) {
		oci_policy_for(op, a->compartment, perm, sizeof(perm));
		/* the permission field says what to grant; the message adds where */
		size_t gl = strcspn(perm, "\x01");
		const char *in = strstr(perm, " in compartment");
		if (in)
			gl = (size_t)(in - perm);
		snprintf(grant, sizeof(grant), "%.*s", (int)gl, perm);
	}
	if (err->status == 0)
		return cloud_err_set(ce, k, NULL, "OCI %s %s: %s", op, target, err->message);
	log_warn("OCI %s: HTTP %ld %s: %s (opc-request-id %s)", op, err->status,
		 err->code[0] ? err->code : "-", err->message, err->request_id);
	if (perm[0])
		return cloud_err_set(ce, k, grant,
				     "OCI %s: 404 %s (opc-request-id %s): missing "
				     "policy? %s",
				     op, err->code, err->request_id, perm);
	if (err->status == 401) {
		/* refused even with a token just federated: say why it may be */
		char why[240];
		oci_401_hint(srv_date, signed_at, why, sizeof(why));
		return cloud_err_set(ce, k, NULL,
				     "OCI %s: 401 %s with a fresh token (opc-request-id %s): %s",
				     op, err->code[0] ? err->code : "-", err->request_id, why);
	}
	return cloud_err_set(ce, k, NULL, "OCI %s: HTTP %ld %s: %.180s (opc-request-id %s)", op,
			     err->status, err->code[0] ? err->code : "-", err->message,
			     err->request_id);
}
