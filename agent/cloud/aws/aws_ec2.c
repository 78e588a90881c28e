/* SPDX-License-Identifier: MIT */
#include "aws_ec2.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cloud_calls.h"
#include "log.h"
#include "aws_xml.h"
#include "buf.h"
#include "httpc.h"

/* ---------------------------------------------------------------- XML helpers */

static struct xdoc *xml_read(const char *buf, size_t len, mg_err *e)
{
	if (!buf || !len)
		return mg_err_set(e, "empty XML answer"), NULL;
	if (len > AWS_XML_MAX || len > (size_t)INT32_MAX)
		return mg_err_set(e, "XML answer of %zu bytes is over the %u-byte cap", len,
				  AWS_XML_MAX),
		       NULL;
	/* expat: no network, no DTD (refused), no entities but the five predefined */
	return xdoc_parse(buf, len, e);
}

static bool is(const struct xnode *n, const char *name)
{
	return n && n->type == XN_ELEMENT && !strcmp(n->name, name);
}

static const struct xnode *child(const struct xnode *n, const char *name)
{
	for (const struct xnode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/*
 * Text of element `name` under n (namespace ignored). Absent: "" and 0 unless required.
 * An element with element children (wrong type) or text that does not fit is an error.
 */
static int text_of(const struct xnode *n, const char *name, bool required, char *out, size_t outlen,
		   mg_err *e)
{
	const struct xnode *c = child(n, name);
	size_t len = 0;

	out[0] = '\0';
	if (!c) {
		if (required)
			return mg_err_set(e, "XML answer: <%s> missing in <%s>", name, n->name);
		return 0;
	}
	for (const struct xnode *t = c->children; t; t = t->next) {
		if (t->type == XN_ELEMENT)
			return mg_err_set(e, "XML answer: <%s> should be text", name);
		size_t tl = t->len;
		if (tl >= outlen - len)
			return mg_err_set(e, "XML answer: <%s> is too long", name);
		memcpy(out + len, t->content, tl);
		len += tl;
		out[len] = '\0';
	}
	/* trim surrounding blanks (pretty-printed answers) */
	size_t s = strspn(out, " \t\r\n");
	memmove(out, out + s, len - s + 1);
	len -= s;
	while (len && strchr(" \t\r\n", out[len - 1]))
		out[--len] = '\0';
	if (required && !len)
		return mg_err_set(e, "XML answer: <%s> is empty", name);
	return 0;
}

static int bool_of(const struct xnode *n, const char *name, bool required, bool *out, mg_err *e)
{
	char v[16];

	if (text_of(n, name, required, v, sizeof(v), e))
		return -1;
	if (!v[0])
		return 0;
	if (!strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "false"))
		*out = false;
	else
		return mg_err_set(e, "XML answer: <%s> is \"%s\", not true or false", name, v);
	return 0;
}

/* <name><item>...</item>...</name>: the set element, checking it holds only items. */
static int set_of(const struct xnode *n, const char *name, const struct xnode **out, mg_err *e)
{
	const struct xnode *s = child(n, name);

	*out = s;
	if (!s)
		return 0;
	for (const struct xnode *c = s->children; c; c = c->next) {
		if (c->type == XN_ELEMENT && !is(c, "item"))
			return mg_err_set(e, "XML answer: <%s> holds <%s>, not <item>", name,
					  c->name);
		if (c->type == XN_TEXT && strspn(c->content, " \t\r\n") != c->len)
			return mg_err_set(e, "XML answer: <%s> holds text, not <item>", name);
	}
	return 0;
}

/* ---------------------------------------------------------------- parsers */

static int parse_route(const struct xnode *it, struct cloud_route *r, mg_err *e)
{
	char v4[CIDR_STRLEN], v6[CIDR_STRLEN], state[32], tmp[CLOUD_ID_LEN];

	if (text_of(it, "destinationCidrBlock", false, v4, sizeof(v4), e) ||
	    text_of(it, "destinationIpv6CidrBlock", false, v6, sizeof(v6), e) ||
	    text_of(it, "state", false, state, sizeof(state), e) ||
	    text_of(it, "origin", false, r->origin, sizeof(r->origin), e) ||
	    text_of(it, "networkInterfaceId", false, r->nic_id, sizeof(r->nic_id), e))
		return -1;
	if (v4[0] && v6[0])
		return mg_err_set(e, "XML answer: route with both an IPv4 and an IPv6 destination");
	if (v4[0] || v6[0]) {
		if (cidr_parse(v4[0] ? v4 : v6, &r->dst, 0, e))
			return mg_err_prefix(e, "XML answer: route destination");
		if ((v4[0] && r->dst.family != AF_INET) || (v6[0] && r->dst.family != AF_INET6))
			return mg_err_set(e, "XML answer: route destination of the wrong family");
		r->has_dst = true;
	}
	if (!strcmp(state, "active"))
		r->state = CLOUD_ROUTE_ACTIVE;
	else if (!strcmp(state, "blackhole"))
		r->state = CLOUD_ROUTE_BLACKHOLE;
	else
		r->state = CLOUD_ROUTE_OTHER;

	/* the target: the NIC first (what the agent writes), then instance, gateway, others */
	if (r->nic_id[0]) {
		r->target_kind = CLOUD_TARGET_NIC;
		memcpy(r->target_id, r->nic_id, sizeof(r->target_id));
		return 0;
	}
	if (text_of(it, "instanceId", false, tmp, sizeof(tmp), e))
		return -1;
	if (tmp[0]) {
		r->target_kind = CLOUD_TARGET_INSTANCE;
		memcpy(r->target_id, tmp, sizeof(tmp));
		return 0;
	}
	if (text_of(it, "gatewayId", false, tmp, sizeof(tmp), e))
		return -1;
	if (tmp[0]) {
		r->target_kind = CLOUD_TARGET_GATEWAY;
		memcpy(r->target_id, tmp, sizeof(tmp));
		return 0;
	}
	static const char *const others[] = {
	    "natGatewayId",           "transitGatewayId",
	    "vpcPeeringConnectionId", "egressOnlyInternetGatewayId",
	    "localGatewayId",         "carrierGatewayId",
	    "coreNetworkArn",
	};
	r->target_kind = CLOUD_TARGET_OTHER;
	for (size_t i = 0; i < MG_ARRAY_SIZE(others); i++) {
		if (text_of(it, others[i], false, tmp, sizeof(tmp), e))
			return -1;
		if (tmp[0]) {
			memcpy(r->target_id, tmp, sizeof(tmp));
			break;
		}
	}
	return 0;
}

static int parse_table(const struct xnode *it, struct cloud_scope *t, mg_err *e)
{
	const struct xnode *routes, *assocs;

	if (text_of(it, "routeTableId", true, t->id, sizeof(t->id), e) ||
	    text_of(it, "vpcId", false, t->network_id, sizeof(t->network_id), e) ||
	    set_of(it, "routeSet", &routes, e) || set_of(it, "associationSet", &assocs, e))
		return -1;
	for (const struct xnode *a = assocs ? assocs->children : NULL; a; a = a->next) {
		bool m = false;
		if (!is(a, "item"))
			continue;
		if (bool_of(a, "main", false, &m, e))
			return mg_err_prefix(e, "route table %s", t->id);
		t->main |= m;
	}
	for (const struct xnode *r = routes ? routes->children : NULL; r; r = r->next) {
		struct cloud_route *cr;
		if (!is(r, "item"))
			continue;
		cr = cloud_scope_add_route(t, e);
		if (!cr || parse_route(r, cr, e))
			return mg_err_prefix(e, "route table %s", t->id);
	}
	return 0;
}

int aws_xml_route_tables(const char *buf, size_t len, struct cloud_scopes *out, char *next_token,
			 size_t next_len, mg_err *e)
{
	struct xdoc *d = xml_read(buf, len, e);
	const struct xnode *root, *set;
	int rc = -1;

	if (next_len)
		next_token[0] = '\0';
	if (!d)
		return -1;
	root = d->root;
	if (!is(root, "DescribeRouteTablesResponse")) {
		mg_err_set(e, "XML answer: <%s> where <DescribeRouteTablesResponse> was expected",
			   root->name);
		goto out;
	}
	if (set_of(root, "routeTableSet", &set, e) ||
	    text_of(root, "nextToken", false, next_token, next_len, e))
		goto out;
	for (const struct xnode *it = set ? set->children : NULL; it; it = it->next) {
		struct cloud_scope *t;
		if (!is(it, "item"))
			continue;
		t = cloud_scopes_add(out, e);
		if (!t || parse_table(it, t, e))
			goto out;
	}
	rc = 0;
out:
	xdoc_free(d);
	return rc;
}

int aws_xml_return_true(const char *buf, size_t len, const char *root_name, mg_err *e)
{
	struct xdoc *d = xml_read(buf, len, e);
	const struct xnode *root;
	bool ok = false;
	int rc = -1;

	if (!d)
		return -1;
	root = d->root;
	if (!is(root, root_name)) {
		mg_err_set(e, "XML answer: <%s> where <%s> was expected", root->name, root_name);
		goto out;
	}
	if (bool_of(root, "return", true, &ok, e))
		goto out;
	if (!ok) {
		mg_err_set(e, "%s answered <return>false</return>", root_name);
		goto out;
	}
	rc = 0;
out:
	xdoc_free(d);
	return rc;
}

int aws_xml_source_dest_check(const char *buf, size_t len, bool *on, mg_err *e)
{
	struct xdoc *d = xml_read(buf, len, e);
	const struct xnode *root, *sdc;
	int rc = -1;

	if (!d)
		return -1;
	root = d->root;
	if (!is(root, "DescribeNetworkInterfaceAttributeResponse")) {
		mg_err_set(e,
			   "XML answer: <%s> where <DescribeNetworkInterfaceAttributeResponse> "
			   "was expected",
			   root->name);
		goto out;
	}
	sdc = child(root, "sourceDestCheck");
	if (!sdc) {
		mg_err_set(e, "XML answer: <sourceDestCheck> missing");
		goto out;
	}
	if (bool_of(sdc, "value", true, on, e))
		goto out;
	rc = 0;
out:
	xdoc_free(d);
	return rc;
}

static bool code_in(const char *code, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(code, list[i]))
			return true;
	return false;
}

void aws_xml_error(const char *buf, size_t len, long http_status, struct aws_ec2_error *err)
{
	static const char *const retry[] = {
	    "RequestLimitExceeded", "Throttling",         "ThrottlingException", "InternalError",
	    "InternalFailure",      "ServiceUnavailable", "Unavailable",         "RequestTimeout",
	};
	static const char *const auth[] = {
	    "AuthFailure",    "SignatureDoesNotMatch", "IncompleteSignature",
	    "RequestExpired", "ExpiredToken",          "InvalidClientTokenId",
	};
	mg_err e = {{0}};
	struct xdoc *d;

	memset(err, 0, sizeof(*err));
	err->http_status = http_status;
	d = buf && len ? xml_read(buf, len, &e) : NULL;
	if (d) {
		const struct xnode *root = d->root;
		const struct xnode *errs = is(root, "Response") ? child(root, "Errors") : NULL;
		const struct xnode *er = child(errs, "Error");
		if (er) {
			/* a field of the wrong shape is left empty rather than failing */
			if (text_of(er, "Code", false, err->code, sizeof(err->code), &e))
				err->code[0] = '\0';
			if (text_of(er, "Message", false, err->message, sizeof(err->message), &e))
				err->message[0] = '\0';
		}
		if (is(root, "Response") &&
		    text_of(root, "RequestID", false, err->request_id, sizeof(err->request_id), &e))
			err->request_id[0] = '\0';
		xdoc_free(d);
	}
	/* keep only printable ASCII: the message goes into a log line */
	for (char *p = err->message; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	for (char *p = err->code; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	err->retryable = http_status == 0 || http_status >= 500 || http_status == 429 ||
			 code_in(err->code, retry, MG_ARRAY_SIZE(retry));
	err->auth = code_in(err->code, auth, MG_ARRAY_SIZE(auth));
}

void aws_ec2_error_msg(const struct aws_ec2_error *err, const char *action, mg_err *e)
{
	const char *c = err->code;

	if (!strcmp(c, "UnauthorizedOperation"))
		mg_err_set(e,
			   "EC2 %s refused: the instance role lacks ec2:%s (add it to the "
			   "role's policy)",
			   action, action);
	else if (!strcmp(c, "RequestLimitExceeded") || !strcmp(c, "Throttling"))
		mg_err_set(e, "EC2 %s throttled (%s) after retries; will try again later", action,
			   c);
	else if (err->auth)
		mg_err_set(e,
			   "EC2 %s: credentials rejected (%s: %s); check the instance profile "
			   "and that the clock is synced",
			   action, c, err->message);
	else if (!strcmp(c, "RouteLimitExceeded"))
		mg_err_set(e,
			   "EC2 %s: the route table is full (RouteLimitExceeded); raise the "
			   "routes-per-table quota or remove routes",
			   action);
	else if (c[0])
		mg_err_set(e, "EC2 %s failed: %s: %s (HTTP %ld, request %s)", action, c,
			   err->message[0] ? err->message : "no message", err->http_status,
			   err->request_id[0] ? err->request_id : "?");
	else
		mg_err_set(e, "EC2 %s failed: HTTP %ld without an error code", action,
			   err->http_status);
}

/* ---------------------------------------------------------------- transport */

static int curl_transport(void *ud, const char *url, const char *const *headers, size_t nh,
			  const char *body, long *status, char **resp, size_t *resp_len, mg_err *e)
{
	struct aws_ec2 *c = ud;
	struct curl_slist *hl = NULL, *t;
	struct mg_buf b = {.max = AWS_EC2_MAX_BODY};
	char errbuf[CURL_ERROR_SIZE] = "";
	struct httpc_opts ho = {
	    .url = url,
	    .timeout_ms = c->timeout_ms,
	    .body = &b,
	    .ca_file = c->ca_file,
	    .abort = &c->abort,
	    .errbuf = errbuf,
	};
	CURL *h = c->curl;
	CURLcode rc = CURLE_OK;
	int ret = -1;

	*status = 0;
	/* one handle per client: curl keeps its connection (and TLS session) for the next
	 * call; reset drops the previous call's options only */
	if (h)
		curl_easy_reset(h);
	else if (!(h = c->curl = curl_easy_init()))
		return mg_err_set(e, "libcurl: cannot create a handle");
	for (size_t i = 0; i < nh; i++) {
		t = curl_slist_append(hl, headers[i]);
		if (!t) {
			mg_err_set(e, "out of memory");
			goto out;
		}
		hl = t;
	}
	/* libcurl adds neither Accept nor Expect for us */
	t = curl_slist_append(hl, "Expect:");
	if (!t) {
		mg_err_set(e, "out of memory");
		goto out;
	}
	hl = t;
	if (httpc_setup(h, &ho, e) < 0)
		goto out;
	if (curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) !=
		CURLE_OK) {
		mg_err_set(e, "libcurl: cannot set the request");
		goto out;
	}
	rc = curl_easy_perform(h);
	if (b.too_big) {
		mg_err_set(e, "EC2 answer from %s is over %u bytes", url, AWS_EC2_MAX_BODY);
		goto out;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		mg_err_set(e, "EC2 request to %s abandoned (stopping)", url);
		goto out;
	}
	if (rc != CURLE_OK) {
		mg_err_set(e, "cannot reach EC2 at %s: %s", url,
			   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	*resp_len = b.len;
	*resp = mg_buf_take(&b);
	if (!*resp) {
		mg_err_set(e, "out of memory");
		goto out;
	}
	ret = 0;
out:
	for (t = hl; t; t = t->next)
		OPENSSL_cleanse(t->data, strlen(t->data)); /* token and signature */
	curl_slist_free_all(hl);
	mg_buf_free(&b);
	if (ret < 0) {
		/* after a failure (timeout, abort) start afresh with a new connection */
		curl_easy_cleanup(h);
		c->curl = NULL;
	}
	return ret;
}

void aws_ec2_close(struct aws_ec2 *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

/* ---------------------------------------------------------------- client */

static bool aborted(const struct aws_ec2 *c)
{
	return c->abort.aborted && c->abort.aborted(c->abort.ud);
}

/* In slices, so that an abort is noticed within 100 ms. */
static void real_sleep(const struct aws_ec2 *c, long ms)
{
	while (ms > 0 && !aborted(c)) {
		long slice = ms > 100 ? 100 : ms;
		struct timespec ts = {0, slice * 1000000L};
		while (nanosleep(&ts, &ts) == -1)
			;
		ms -= slice;
	}
}

static uint32_t real_rand32(void)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)time(NULL) * 2654435761u;
	return r;
}

int aws_ec2_init(struct aws_ec2 *c, const char *region, const char *endpoint, const char *ca_file,
		 aws_ec2_creds_fn creds, void *creds_ud, mg_err *e)
{
	const char *hs, *he;
	int n;

	memset(c, 0, sizeof(*c));
	if (!region || !region[0] || strlen(region) >= sizeof(c->region) ||
	    strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
		return mg_err_set(e, "invalid AWS region \"%s\"", region ? region : "");
	strcpy(c->region, region);
	if (endpoint && endpoint[0])
		n = snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
	else
		n = snprintf(c->endpoint, sizeof(c->endpoint), "https://ec2.%s.amazonaws.com",
			     region);
	if (n < 0 || (size_t)n >= sizeof(c->endpoint))
		return mg_err_set(e, "EC2 endpoint URL too long");
	while (n > 0 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	if (strncmp(c->endpoint, "https://", 8))
		return mg_err_set(e, "EC2 endpoint %s must be https://", c->endpoint);
	hs = c->endpoint + 8;
	he = hs + strcspn(hs, "/?#");
	if (he == hs || strchr(hs, '@') || *he)
		return mg_err_set(e, "EC2 endpoint %s: want https://host[:port] without a path",
				  c->endpoint);
	snprintf(c->host, sizeof(c->host), "%.*s", (int)(he - hs), hs);
	if (ca_file &&
	    snprintf(c->ca_file, sizeof(c->ca_file), "%s", ca_file) >= (int)sizeof(c->ca_file))
		return mg_err_set(e, "CA file path too long");
	c->timeout_ms = 20000;
	c->max_attempts = 6;
	c->backoff_base_ms = 500;
	c->backoff_cap_ms = 20000;
	c->creds = creds;
	c->creds_ud = creds_ud;
	return 0;
}

char *aws_ec2_form(const char *action, const struct aws_param *p, size_t n)
{
	struct mg_buf b = {0};
	char *v;

	mg_buf_add(&b, "Action=");
	v = aws_uri_encode(action, strlen(action), false);
	if (!v) {
		mg_buf_free(&b);
		return NULL;
	}
	mg_buf_add(&b, v);
	free(v);
	mg_buf_add(&b, "&Version=" AWS_EC2_VERSION);
	for (size_t i = 0; i < n; i++) {
		char *k = aws_uri_encode(p[i].name, strlen(p[i].name), false);
		v = aws_uri_encode(p[i].value, strlen(p[i].value), false);
		if (k && v) {
			mg_buf_addc(&b, '&');
			mg_buf_add(&b, k);
			mg_buf_addc(&b, '=');
			mg_buf_add(&b, v);
		} else {
			b.failed = true;
		}
		free(k);
		free(v);
	}
	return mg_buf_take(&b);
}

long aws_backoff_ms(long base, long cap, int attempt, uint32_t r)
{
	long lim = base;

	for (int i = 0; i < attempt && lim < cap; i++)
		lim *= 2;
	if (lim > cap)
		lim = cap;
	if (lim <= 0)
		return 0;
	return (long)(r % ((uint32_t)lim + 1));
}

/* Sign and send once. 0: HTTP answer in status/resp. -1: transport or local error. */
static int send_once(struct aws_ec2 *c, const char *form, bool force_creds, long *status,
		     char **resp, size_t *resp_len, mg_err *e)
{
	static const char ctype[] = "application/x-www-form-urlencoded; charset=utf-8";
	struct aws_creds cr;
	struct sigv4_header sh[] = {{"Host", c->host}, {"Content-Type", ctype}};
	struct sigv4_req r = {
	    .method = "POST",
	    .target = "/",
	    .headers = sh,
	    .n_headers = 2,
	    .body = form,
	    .body_len = strlen(form),
	    .region = c->region,
	    .service = "ec2",
	};
	struct sigv4_out o;
	struct mg_buf h[5] = {{.secret = true},
			      {.secret = true},
			      {.secret = true},
			      {.secret = true},
			      {.secret = true}};
	const char *hp[5];
	size_t nh = 0;
	int rc = -1;

	memset(&cr, 0, sizeof(cr));
	if (!c->creds)
		return mg_err_set(e, "EC2 client has no credential source");
	if (c->creds(c->creds_ud, force_creds, &cr, e))
		return -1;
	r.when = c->now ? c->now() : time(NULL);
	if (sigv4_sign(&r, &cr, &o, e)) {
		aws_creds_clear(&cr);
		return -1;
	}
	mg_buf_addf(&h[nh++], "Content-Type: %s", ctype);
	mg_buf_addf(&h[nh++], "X-Amz-Date: %s", o.amz_date);
	if (cr.token[0])
		mg_buf_addf(&h[nh++], "X-Amz-Security-Token: %s", cr.token);
	mg_buf_addf(&h[nh++], "Authorization: %s", o.authorization);
	for (size_t i = 0; i < nh; i++) {
		if (h[i].failed || !h[i].p) {
			mg_err_set(e, "out of memory");
			goto out;
		}
		hp[i] = h[i].p;
	}
	rc = (c->transport ? c->transport : curl_transport)(c->transport ? c->transport_ud : c,
							    c->endpoint, hp, nh, form, status, resp,
							    resp_len, e);
out:
	for (size_t i = 0; i < MG_ARRAY_SIZE(h); i++)
		mg_buf_free(&h[i]); /* wipes */
	sigv4_out_free(&o);
	aws_creds_clear(&cr);
	return rc;
}

int aws_ec2_call(struct aws_ec2 *c, const char *action, const struct aws_param *p, size_t n,
		 char **resp, size_t *resp_len, struct aws_ec2_error *err, mg_err *e)
{
	char *form = aws_ec2_form(action, p, n);
	bool force = false, reauth_done = false;
	int attempts = c->max_attempts > 0 ? c->max_attempts : 1;

	*resp = NULL;
	*resp_len = 0;
	memset(err, 0, sizeof(*err));
	if (!form)
		return mg_err_set(e, "out of memory");
	for (int i = 0; i < attempts; i++) {
		long status = 0;
		char *body = NULL;
		size_t blen = 0;
		mg_err te = {{0}};

		if (i > 0) {
			long ms = aws_backoff_ms(c->backoff_base_ms, c->backoff_cap_ms, i - 1,
						 c->rand32 ? c->rand32() : real_rand32());
			if (aborted(c))
				break;
			if (c->sleep_ms)
				c->sleep_ms(c->sleep_ud, ms);
			else
				real_sleep(c, ms);
		}
		if (aborted(c))
			break;
		if (send_once(c, form, force, &status, &body, &blen, &te)) {
			/* no HTTP answer: network trouble is worth retrying, local trouble not */
			memset(err, 0, sizeof(*err));
			err->retryable = status == 0 && strstr(te.msg, "cannot reach") != NULL;
			*e = te;
			if (err->retryable) /* no answer (a local failure sent nothing) */
				cloud_call_count(c->hooks, "aws", action, 0, false);
			if (!err->retryable)
				break;
			log_debug("EC2 %s: %s (attempt %d of %d)", action, te.msg, i + 1, attempts);
			continue;
		}
		if (status >= 200 && status < 300) {
			cloud_call_count(c->hooks, "aws", action, status, false);
			free(form);
			*resp = body;
			*resp_len = blen;
			return 0;
		}
		aws_xml_error(body, blen, status, err);
		free(body);
		cloud_call_count(c->hooks, "aws", action, status,
				 !strcmp(err->code, "RequestLimitExceeded") ||
				     !strncmp(err->code, "Throttling", 10));
		aws_ec2_error_msg(err, action, e);
		if (err->auth && !reauth_done) {
			/* new credentials once, straight away */
			reauth_done = force = true;
			i--;
			continue;
		}
		force = false;
		if (!err->retryable)
			break;
		log_debug("EC2 %s: %s (attempt %d of %d)", action,
			  err->code[0] ? err->code : "server error", i + 1, attempts);
	}
	if (aborted(c)) {
		memset(err, 0, sizeof(*err));
		err->aborted = true;
		mg_err_set(e, "EC2 %s abandoned (stopping)", action);
	}
	snprintf(err->action, sizeof(err->action), "%s", action);
	free(form);
	return -1;
}

/* ---------------------------------------------------------------- actions */

int aws_ec2_describe_route_tables(struct aws_ec2 *c, const char *vpc_id, const char *const *ids,
				  size_t n_ids, struct cloud_scopes *out, struct aws_ec2_error *err,
				  mg_err *e)
{
	enum { MAX_IDS = 100, MAX_PAGES = 200 };
	struct aws_param *p;
	char(*names)[32];
	char token[2048] = "";
	size_t np;
	int rc = -1;

	if (n_ids > MAX_IDS)
		return mg_err_set(e, "more than %d route tables listed", MAX_IDS);
	if (!n_ids && (!vpc_id || !vpc_id[0]))
		return mg_err_set(e, "DescribeRouteTables needs a VPC id or route table ids");
	p = calloc(n_ids + 4, sizeof(*p));
	names = calloc(n_ids + 1, sizeof(*names));
	if (!p || !names) {
		free(p);
		free(names);
		return mg_err_set(e, "out of memory");
	}
	for (int page = 0; page < MAX_PAGES; page++) {
		char *resp;
		size_t len;

		np = 0;
		/* always scoped to the VPC; listed ids narrow it further */
		if (vpc_id && vpc_id[0]) {
			p[np++] = (struct aws_param){"Filter.1.Name", "vpc-id"};
			p[np++] = (struct aws_param){"Filter.1.Value.1", vpc_id};
		}
		for (size_t i = 0; i < n_ids; i++) {
			snprintf(names[i], sizeof(names[i]), "RouteTableId.%zu", i + 1);
			p[np++] = (struct aws_param){names[i], ids[i]};
		}
		if (!n_ids)
			p[np++] = (struct aws_param){"MaxResults", "100"};
		if (token[0])
			p[np++] = (struct aws_param){"NextToken", token};
		if (aws_ec2_call(c, "DescribeRouteTables", p, np, &resp, &len, err, e))
			goto out;
		rc = aws_xml_route_tables(resp, len, out, token, sizeof(token), e);
		free(resp);
		if (rc) {
			mg_err_prefix(e, "DescribeRouteTables");
			goto out;
		}
		rc = -1;
		if (!token[0]) {
			rc = 0;
			goto out;
		}
	}
	mg_err_set(e, "DescribeRouteTables: more than %d pages", MAX_PAGES);
out:
	free(p);
	free(names);
	return rc;
}

static int route_call(struct aws_ec2 *c, const char *action, const char *table,
		      const struct cidr *dst, const char *eni, struct aws_ec2_error *err, mg_err *e)
{
	char cs[CIDR_STRLEN], root[64];
	struct aws_param p[3];
	char *resp;
	size_t len;
	int rc;

	cidr_format(dst, cs);
	p[0] = (struct aws_param){"RouteTableId", table};
	p[1] = (struct aws_param){
	    dst->family == AF_INET6 ? "DestinationIpv6CidrBlock" : "DestinationCidrBlock", cs};
	if (eni)
		p[2] = (struct aws_param){"NetworkInterfaceId", eni};
	if (aws_ec2_call(c, action, p, eni ? 3 : 2, &resp, &len, err, e))
		return -1;
	snprintf(root, sizeof(root), "%sResponse", action);
	rc = aws_xml_return_true(resp, len, root, e);
	free(resp);
	if (rc)
		mg_err_prefix(e, "%s %s in %s", action, cs, table);
	return rc;
}

int aws_ec2_create_route(struct aws_ec2 *c, const char *table, const struct cidr *dst,
			 const char *eni, struct aws_ec2_error *err, mg_err *e)
{
	return route_call(c, "CreateRoute", table, dst, eni, err, e);
}

int aws_ec2_replace_route(struct aws_ec2 *c, const char *table, const struct cidr *dst,
			  const char *eni, struct aws_ec2_error *err, mg_err *e)
{
	return route_call(c, "ReplaceRoute", table, dst, eni, err, e);
}

int aws_ec2_delete_route(struct aws_ec2 *c, const char *table, const struct cidr *dst,
			 struct aws_ec2_error *err, mg_err *e)
{
	if (route_call(c, "DeleteRoute", table, dst, NULL, err, e)) {
		if (!strcmp(err->code, "InvalidRoute.NotFound")) {
			mg_err_clear(e);
			return 0;
		}
		return -1;
	}
	return 0;
}

int aws_ec2_set_source_dest_check(struct aws_ec2 *c, const char *eni, bool on,
				  struct aws_ec2_error *err, mg_err *e)
{
	struct aws_param p[] = {
	    {"NetworkInterfaceId", eni},
	    {"SourceDestCheck.Value", on ? "true" : "false"},
	};
	char *resp;
	size_t len;
	int rc;

	if (aws_ec2_call(c, "ModifyNetworkInterfaceAttribute", p, 2, &resp, &len, err, e))
		return -1;
	rc = aws_xml_return_true(resp, len, "ModifyNetworkInterfaceAttributeResponse", e);
	free(resp);
	return rc;
}

int aws_ec2_get_source_dest_check(struct aws_ec2 *c, const char *eni, bool *on,
				  struct aws_ec2_error *err, mg_err *e)
{
	struct aws_param p[] = {
	    {"NetworkInterfaceId", eni},
	    {"Attribute", "sourceDestCheck"},
	};
	char *resp;
	size_t len;
	int rc;

	if (aws_ec2_call(c, "DescribeNetworkInterfaceAttribute", p, 2, &resp, &len, err, e))
		return -1;
	rc = aws_xml_source_dest_check(resp, len, on, e);
	free(resp);
	return rc;
}
