/* SPDX-License-Identifier: MIT */
#include "gcp_meta.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int gcp_meta_init(struct gcp_meta *m, const char *base, mg_err *e)
{
	memset(m, 0, sizeof(*m));
	if (cloud_base_url(m->base, sizeof(m->base), base, GCP_META_DEFAULT, "metadata URL", e) < 0)
		return -1;
	m->timeout_ms = 3000;
	return 0;
}

void gcp_meta_cleanup(struct gcp_meta *m)
{
	OPENSSL_cleanse(m->token, sizeof(m->token));
	m->token_expiry = 0;
}

static time_t now_of(const struct gcp_meta *m)
{
	return m->now ? m->now() : time(NULL);
}

static int meta_get(struct gcp_meta *m, const char *path, size_t max, char **out, size_t *len,
		    mg_err *e)
{
	char url[CLOUD_URL_LEN + 256];
	struct gcp_http_req rq = {.method = "GET",
				  .url = url,
				  .metadata = true,
				  .timeout_ms = m->timeout_ms,
				  .max = max,
				  .abort = m->abort};
	struct gcp_http_resp rs;
	int rc;

	*out = NULL;
	if (snprintf(url, sizeof(url), "%s/computeMetadata/v1/%s", m->base, path) >=
	    (int)sizeof(url))
		return mg_err_set(e, "metadata path too long");
	rc = (m->transport ? m->transport : gcp_http_do)(m->transport_ud, &rq, &rs, e);
	if (rc)
		return mg_err_prefix(e, "GCE metadata server");
	if (!rs.flavor) {
		gcp_http_resp_free(&rs);
		return mg_err_set(e,
				  "%s answered without Metadata-Flavor: Google: not a GCE "
				  "metadata server",
				  url);
	}
	if (rs.status != 200) {
		long st = rs.status;
		gcp_http_resp_free(&rs);
		return mg_err_set(e, "GCE metadata %s: HTTP %ld", path, st);
	}
	*out = rs.body;
	*len = rs.len;
	return 0;
}

int gcp_meta_get(struct gcp_meta *m, const char *path, size_t max, char **out, size_t *len,
		 mg_err *e)
{
	return meta_get(m, path, max, out, len, e);
}

int gcp_meta_probe(const char *base, long timeout_ms)
{
	struct gcp_meta m;
	mg_err e;
	char *b = NULL;
	size_t n;
	int ok;

	if (gcp_meta_init(&m, base, &e))
		return 0;
	m.timeout_ms = timeout_ms;
	ok = meta_get(&m, "instance/id", 64, &b, &n, &e) == 0;
	free(b);
	return ok;
}

/* One short line of printable characters from `allowed`. */
static int get_line(struct gcp_meta *m, const char *path, const char *allowed, char *out,
		    size_t outlen, mg_err *e)
{
	char *b;
	size_t n;

	if (meta_get(m, path, 1024, &b, &n, e))
		return -1;
	n = strcspn(b, "\r\n");
	b[n] = '\0';
	if (n == 0 || n >= outlen || strspn(b, allowed) != n) {
		free(b);
		return mg_err_set(e, "GCE metadata %s: malformed value", path);
	}
	memcpy(out, b, n + 1);
	free(b);
	return 0;
}

int gcp_meta_identity(struct gcp_meta *m, struct gcp_md_instance *md, char *project, size_t projlen,
		      mg_err *e)
{
	char *b;
	size_t n;
	int rc;

	if (meta_get(m, "instance/?recursive=true", 1u << 20, &b, &n, e))
		return -1;
	rc = gcp_parse_md_instance(b, n, md, e);
	free(b);
	if (rc)
		return -1;
	if (get_line(m, "instance/id", "0123456789", md->id, sizeof(md->id), e) ||
	    get_line(m, "project/project-id", "abcdefghijklmnopqrstuvwxyz0123456789-.:", project,
		     projlen, e))
		return -1;
	return 0;
}

time_t gcp_token_refresh_at(time_t t0, long expires_in)
{
	long margin = expires_in / 2 < GCP_TOKEN_MARGIN ? expires_in / 2 : GCP_TOKEN_MARGIN;

	return t0 + expires_in - margin;
}

int gcp_meta_token(struct gcp_meta *m, bool force, mg_err *e)
{
	time_t t0 = now_of(m);
	char *b;
	size_t n;
	long exp = 0;
	int rc;

	if (!force && m->token[0] && t0 < m->token_expiry)
		return 0;
	if (meta_get(m, "instance/service-accounts/default/token", 65536, &b, &n, e))
		return mg_err_prefix(e, "service account token");
	gcp_meta_cleanup(m);
	rc = gcp_parse_token(b, n, m->token, sizeof(m->token), &exp, e);
	OPENSSL_cleanse(b, n);
	free(b);
	if (rc) {
		gcp_meta_cleanup(m);
		return -1;
	}
	m->token_expiry = gcp_token_refresh_at(t0, exp);
	log_debug("GCP: service account token valid for %ld s", exp);
	return 0;
}
