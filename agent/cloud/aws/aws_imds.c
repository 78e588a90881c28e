/* SPDX-License-Identifier: MIT */
#include "aws_imds.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "httpc.h"
#include "jsonu.h"
#include "log.h"

#define TOKEN_HDR "X-aws-ec2-metadata-token"

int aws_imds_init(struct aws_imds *m, const char *base, mg_err *e)
{
	memset(m, 0, sizeof(*m));
	if (cloud_base_url(m->base, sizeof(m->base), base, AWS_IMDS_DEFAULT, "metadata URL", e) < 0)
		return -1;
	m->token_ttl = 21600;
	m->timeout_ms = 2000;
	return 0;
}

void aws_imds_cleanup(struct aws_imds *m)
{
	OPENSSL_cleanse(m->token, sizeof(m->token));
	m->token_expiry = 0;
}

static time_t now_of(const struct aws_imds *m)
{
	return m->now ? m->now() : time(NULL);
}

/* One request; 0 with *status set when there was an HTTP answer. */
static int request(const struct aws_imds *m, const char *url, const char *method, const char *hdr,
		   char *out, size_t outlen, long *status, mg_err *e)
{
	struct curl_slist *hl = NULL;
	struct mg_buf b = {.max = outlen - 1, .secret = true};
	char errbuf[CURL_ERROR_SIZE] = "";
	struct httpc_opts ho = {
	    .url = url,
	    .protocols = "http,https",
	    .connect_timeout_ms = m->timeout_ms,
	    .timeout_ms = m->timeout_ms,
	    .body = &b,
	    .abort = m->abort.aborted ? &m->abort : NULL,
	    .errbuf = errbuf,
	    /* metadata never goes through a proxy (use_proxy false) */
	};
	CURLcode rc = CURLE_OK;
	CURL *h;
	int ret = -1;

	*status = 0;
	out[0] = '\0';
	h = curl_easy_init();
	if (!h)
		return mg_err_set(e, "libcurl: cannot create a handle");
	if (hdr) {
		hl = curl_slist_append(NULL, hdr);
		if (!hl) {
			curl_easy_cleanup(h);
			return mg_err_set(e, "out of memory");
		}
	}
	if (httpc_setup(h, &ho, e) < 0)
		goto out;
#define SET(o, v) (rc == CURLE_OK ? (rc = curl_easy_setopt(h, o, v)) : rc)
	if (hl)
		SET(CURLOPT_HTTPHEADER, hl);
	if (!strcmp(method, "PUT")) {
		SET(CURLOPT_CUSTOMREQUEST, "PUT");
		SET(CURLOPT_POSTFIELDS, "");
		SET(CURLOPT_POSTFIELDSIZE, 0L);
	}
#undef SET
	if (rc != CURLE_OK) {
		mg_err_set(e, "libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (b.too_big) {
		mg_err_set(e, "metadata answer from %s is over %zu bytes", url, outlen - 1);
		goto out;
	}
	if (rc != CURLE_OK) {
		mg_err_set(e, "cannot reach the instance metadata service at %s: %s", url,
			   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (b.p)
		memcpy(out, b.p, b.len + 1);
	ret = 0;
out:
	if (hl)
		OPENSSL_cleanse(hl->data, strlen(hl->data));
	curl_slist_free_all(hl);
	mg_buf_free(&b);
	curl_easy_cleanup(h);
	return ret;
}

static int fetch_token(struct aws_imds *m, mg_err *e)
{
	char url[CLOUD_URL_LEN + 32], hdr[80];
	long status;
	time_t t0 = now_of(m);

	snprintf(url, sizeof(url), "%s/latest/api/token", m->base);
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token-ttl-seconds: %d", m->token_ttl);
	aws_imds_cleanup(m);
	if (request(m, url, "PUT", hdr, m->token, sizeof(m->token), &status, e))
		return -1;
	if (status != 200) {
		aws_imds_cleanup(m);
		if (status == 403)
			return mg_err_set(e,
					  "instance metadata service refused a token (HTTP 403): "
					  "is IMDS disabled, or the PUT hop limit too low for "
					  "a container?");
		return mg_err_set(e, "instance metadata token: HTTP %ld from %s", status, url);
	}
	if (!m->token[0] || strspn(m->token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
					     "vwxyz0123456789+/=_-.") != strlen(m->token)) {
		aws_imds_cleanup(m);
		return mg_err_set(e, "instance metadata token: malformed answer");
	}
	/* renew at 80% of the lifetime */
	m->token_expiry = t0 + (time_t)m->token_ttl * 4 / 5;
	return 0;
}

int aws_imds_probe(const char *base, long timeout_ms)
{
	struct aws_imds m;
	mg_err e = {{0}};
	int ok;

	if (aws_imds_init(&m, base, &e))
		return 0;
	m.timeout_ms = timeout_ms;
	m.token_ttl = 60;
	ok = fetch_token(&m, &e) == 0;
	aws_imds_cleanup(&m);
	return ok;
}

int aws_imds_get(struct aws_imds *m, const char *path, char *out, size_t outlen, long *status_out,
		 mg_err *e)
{
	char url[CLOUD_URL_LEN + 256], hdr[sizeof(m->token) + 40];
	long status = 0;
	int rc = -1;

	if (snprintf(url, sizeof(url), "%s/latest/%s", m->base, path) >= (int)sizeof(url))
		return mg_err_set(e, "metadata path too long");
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((!m->token[0] || now_of(m) >= m->token_expiry) && fetch_token(m, e))
			break;
		snprintf(hdr, sizeof(hdr), TOKEN_HDR ": %s", m->token);
		rc = request(m, url, "GET", hdr, out, outlen, &status, e);
		OPENSSL_cleanse(hdr, sizeof(hdr));
		if (rc)
			break;
		if (status == 401) { /* expired or revoked token: a new one, once */
			aws_imds_cleanup(m);
			rc = -1;
			mg_err_set(e, "instance metadata %s: HTTP 401 even with a fresh token",
				   path);
			continue;
		}
		if (status != 200) {
			rc = mg_err_set(e, "instance metadata %s: HTTP %ld", path, status);
			out[0] = '\0';
		}
		break;
	}
	if (status_out)
		*status_out = status;
	return rc;
}

/* A single-line value: first line only, trimmed; refuse empty. */
static int get_line(struct aws_imds *m, const char *path, char *out, size_t outlen, mg_err *e)
{
	char buf[4096];
	size_t n;

	if (aws_imds_get(m, path, buf, sizeof(buf), NULL, e))
		return -1;
	n = strcspn(buf, "\r\n");
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	if (!n)
		return mg_err_set(e, "instance metadata %s: empty", path);
	if (n >= outlen)
		return mg_err_set(e, "instance metadata %s: too long", path);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] > '~')
			return mg_err_set(e, "instance metadata %s: unexpected characters", path);
	memcpy(out, buf, n + 1);
	return 0;
}

int aws_imds_identity(struct aws_imds *m, struct cloud_identity *id, mg_err *e)
{
	char path[256], buf[4096], *line, *save = NULL;

	memset(id, 0, sizeof(*id));
	if (get_line(m, "meta-data/instance-id", id->instance_id, sizeof(id->instance_id), e) ||
	    get_line(m, "meta-data/placement/region", id->region, sizeof(id->region), e) ||
	    get_line(m, "meta-data/mac", id->mac, sizeof(id->mac), e) ||
	    get_line(m, "meta-data/local-ipv4", id->private_ip, sizeof(id->private_ip), e))
		return -1;
	if (strspn(id->mac, "0123456789abcdefABCDEF:") != strlen(id->mac))
		return mg_err_set(e, "instance metadata mac: \"%s\" is not a MAC", id->mac);
	snprintf(path, sizeof(path), "meta-data/network/interfaces/macs/%s/interface-id", id->mac);
	if (get_line(m, path, id->nic_id, sizeof(id->nic_id), e))
		return -1;
	snprintf(path, sizeof(path), "meta-data/network/interfaces/macs/%s/vpc-id", id->mac);
	if (get_line(m, path, id->network_id, sizeof(id->network_id), e))
		return -1;
	snprintf(path, sizeof(path), "meta-data/network/interfaces/macs/%s/vpc-ipv4-cidr-blocks",
		 id->mac);
	if (aws_imds_get(m, path, buf, sizeof(buf), NULL, e))
		return -1;
	for (line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		if (!line[0])
			continue;
		if (id->n_net_cidrs == CLOUD_MAX_NET_CIDRS)
			return mg_err_set(e, "VPC has more than %d IPv4 blocks",
					  CLOUD_MAX_NET_CIDRS);
		if (cidr_parse(line, &id->net_cidrs[id->n_net_cidrs], 0, e))
			return mg_err_prefix(e, "instance metadata vpc-ipv4-cidr-blocks");
		id->n_net_cidrs++;
	}
	if (!id->n_net_cidrs)
		return mg_err_set(e, "instance metadata vpc-ipv4-cidr-blocks: empty");
	return 0;
}

static int parse_time(const char *s, time_t *out)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!end)
		return -1;
	if (*end == '.') /* fractional seconds */
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z"))
		return -1;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

int aws_creds_parse(const char *json, size_t len, struct aws_creds *c, mg_err *e)
{
	char code[64] = "", exp[64];
	cJSON *j;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	j = jsonu_parse(json, len, AWS_IMDS_MAX_BODY, e);
	if (!j)
		return mg_err_prefix(e, "role credentials");
	if (jsonu_copy_str(j, "Code", false, code, sizeof(code), e))
		goto out;
	if (code[0] && strcmp(code, "Success")) {
		mg_err_set(e, "role credentials: IMDS says Code=%s", code);
		goto out;
	}
	if (jsonu_copy_str(j, "AccessKeyId", true, c->access_key_id, sizeof(c->access_key_id), e) ||
	    jsonu_copy_str(j, "SecretAccessKey", true, c->secret_access_key,
			   sizeof(c->secret_access_key), e) ||
	    jsonu_copy_str(j, "Token", true, c->token, sizeof(c->token), e) ||
	    jsonu_copy_str(j, "Expiration", true, exp, sizeof(exp), e)) {
		mg_err_prefix(e, "role credentials");
		goto out;
	}
	if (!c->access_key_id[0] || !c->secret_access_key[0]) {
		mg_err_set(e, "role credentials: empty key");
		goto out;
	}
	if (parse_time(exp, &c->expiration)) {
		mg_err_set(e, "role credentials: Expiration \"%s\" is not an ISO 8601 UTC time",
			   exp);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j); /* holds secrets; cJSON offers no wipe, so scrub our copy on error */
	if (rc)
		aws_creds_clear(c);
	return rc;
}

bool aws_creds_need_refresh(const struct aws_creds *c, time_t now)
{
	if (!c->access_key_id[0])
		return true;
	if (!c->expiration)
		return false;
	return now >= c->expiration - AWS_CREDS_REFRESH_MARGIN;
}

int aws_imds_credentials(struct aws_imds *m, struct aws_creds *c, mg_err *e)
{
	char role[256], path[300];
	char *buf;
	long status = 0;
	int rc;

	if (aws_imds_get(m, "meta-data/iam/security-credentials/", role, sizeof(role), &status,
			 e)) {
		if (status == 404)
			return mg_err_set(e, "the instance has no IAM role (instance profile); "
					     "attach one that allows the EC2 route actions");
		return -1;
	}
	role[strcspn(role, "\r\n")] = '\0';
	if (!role[0] || strchr(role, '/') || strchr(role, '.'))
		return mg_err_set(e, "instance metadata: no usable IAM role name");
	snprintf(path, sizeof(path), "meta-data/iam/security-credentials/%s", role);
	buf = malloc(AWS_IMDS_MAX_BODY);
	if (!buf)
		return mg_err_set(e, "out of memory");
	rc = aws_imds_get(m, path, buf, AWS_IMDS_MAX_BODY, NULL, e);
	if (!rc)
		rc = aws_creds_parse(buf, strlen(buf), c, e);
	if (!rc)
		snprintf(m->role, sizeof(m->role), "%.127s", role);
	OPENSSL_cleanse(buf, AWS_IMDS_MAX_BODY);
	free(buf);
	return rc;
}
