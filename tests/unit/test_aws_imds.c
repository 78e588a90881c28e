/* SPDX-License-Identifier: MIT */
/* IMDSv2 client against a small local metadata server (libmicrohttpd), credential JSON,
 * refresh timing, and DMI-based detection under a fake sysfs root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws_imds.h"
#include "cloud.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

static const char creds_json[] =
    "{\"Code\":\"Success\",\"LastUpdated\":\"2012-04-26T16:39:16Z\",\"Type\":\"AWS-HMAC\","
    "\"AccessKeyId\":\"ASIAIOSFODNN7EXAMPLE\",\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/"
    "bPxRfiCYEXAMPLEKEY\",\"Token\":\"token\",\"Expiration\":\"2017-05-17T15:09:54Z\"}";

struct srv {
	struct MHD_Daemon *d;
	int port;
	int tokens_issued;
	char token[32];
	int puts, gets, unauthorized;
	char last_ttl[16];
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **ptr)
{
	struct srv *s = cls;
	const char *tok;
	static const struct {
		const char *path, *body;
	} meta[] = {
	    {"/latest/meta-data/instance-id", "i-0123456789abcdef0"},
	    {"/latest/meta-data/placement/region", "eu-west-1"},
	    {"/latest/meta-data/mac", "0a:1b:2c:3d:4e:5f"},
	    {"/latest/meta-data/local-ipv4", "172.31.5.6"},
	    {"/latest/meta-data/network/interfaces/macs/0a:1b:2c:3d:4e:5f/interface-id",
	     "eni-0abc"},
	    {"/latest/meta-data/network/interfaces/macs/0a:1b:2c:3d:4e:5f/vpc-id", "vpc-0123"},
	    {"/latest/meta-data/network/interfaces/macs/0a:1b:2c:3d:4e:5f/"
	     "vpc-ipv4-cidr-blocks",
	     "172.31.0.0/16\n10.50.0.0/16"},
	    {"/latest/meta-data/iam/security-credentials/", "meshgate-role"},
	    {"/latest/meta-data/iam/security-credentials/meshgate-role", creds_json},
	};

	(void)version;
	(void)upload;
	if (!*ptr) { /* first call: headers only */
		*ptr = s;
		return MHD_YES;
	}
	*upload_size = 0;
	if (!strcmp(method, "PUT") && !strcmp(url, "/latest/api/token")) {
		const char *ttl = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, "X-aws-ec2-metadata-token-ttl-seconds");
		s->puts++;
		if (!ttl)
			return answer(c, 400, "");
		snprintf(s->last_ttl, sizeof(s->last_ttl), "%s", ttl);
		snprintf(s->token, sizeof(s->token), "TOKEN%d", ++s->tokens_issued);
		return answer(c, 200, s->token);
	}
	if (strcmp(method, "GET"))
		return answer(c, 405, "");
	s->gets++;
	tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-aws-ec2-metadata-token");
	if (!tok || !s->token[0] || strcmp(tok, s->token)) {
		s->unauthorized++;
		return answer(c, 401, "");
	}
	for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++)
		if (!strcmp(url, meta[i].path))
			return answer(c, 200, meta[i].body);
	if (!strcmp(url, "/latest/meta-data/big")) {
		static char big[AWS_IMDS_MAX_BODY + 10];
		memset(big, 'a', sizeof(big) - 1);
		return answer(c, 200, big);
	}
	return answer(c, 404, "");
}

static struct srv S;

static int setup(void **state)
{
	(void)state;
	memset(&S, 0, sizeof(S));
	S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_req, &S,
			       MHD_OPTION_END);
	if (!S.d)
		return -1;
	S.port = MHD_get_daemon_info(S.d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(S.d);
	return 0;
}

static char base[64];
static time_t fake_now = 1000000;
static time_t now_fn(void)
{
	return fake_now;
}

static void client(struct aws_imds *m)
{
	mg_err e = {{0}};

	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", S.port);
	assert_int_equal(aws_imds_init(m, base, &e), 0);
	m->now = now_fn;
}

static void test_identity_and_token(void **state)
{
	struct aws_imds m;
	struct cloud_identity id;
	mg_err e = {{0}};
	char buf[64];

	(void)state;
	client(&m);
	if (aws_imds_identity(&m, &id, &e))
		fail_msg("%s", e.msg);
	assert_string_equal(id.instance_id, "i-0123456789abcdef0");
	assert_string_equal(id.region, "eu-west-1");
	assert_string_equal(id.nic_id, "eni-0abc");
	assert_string_equal(id.network_id, "vpc-0123");
	assert_string_equal(id.private_ip, "172.31.5.6");
	assert_int_equal(id.n_net_cidrs, 2);
	assert_string_equal(S.last_ttl, "21600");
	assert_int_equal(S.puts, 1); /* one token for all GETs */

	/* server forgets the token: 401, a new token, the GET again */
	S.token[0] = '\0';
	S.unauthorized = 0;
	assert_int_equal(aws_imds_get(&m, "meta-data/instance-id", buf, sizeof(buf), NULL, &e), 0);
	assert_int_equal(S.unauthorized, 1);
	assert_int_equal(S.puts, 2);

	/* token near its end of life: renewed before use */
	fake_now += 21600;
	assert_int_equal(aws_imds_get(&m, "meta-data/instance-id", buf, sizeof(buf), NULL, &e), 0);
	assert_int_equal(S.puts, 3);

	/* 404, bounded bodies */
	long st = 0;
	assert_int_equal(aws_imds_get(&m, "meta-data/nothing", buf, sizeof(buf), &st, &e), -1);
	assert_int_equal(st, 404);
	char *big = malloc(AWS_IMDS_MAX_BODY);
	assert_non_null(big);
	assert_int_equal(aws_imds_get(&m, "meta-data/big", big, AWS_IMDS_MAX_BODY, NULL, &e), -1);
	assert_contains(e.msg, "over");
	free(big);
	aws_imds_cleanup(&m);
}

static void test_credentials(void **state)
{
	struct aws_imds m;
	struct aws_creds c;
	mg_err e = {{0}};

	(void)state;
	client(&m);
	if (aws_imds_credentials(&m, &c, &e))
		fail_msg("%s", e.msg);
	assert_string_equal(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
	assert_string_equal(c.token, "token");
	assert_int_equal(c.expiration, 1495033794); /* 2017-05-17T15:09:54Z */
	assert_false(aws_creds_need_refresh(&c, c.expiration - 301));
	assert_true(aws_creds_need_refresh(&c, c.expiration - 300));
	aws_creds_clear(&c);
	assert_true(aws_creds_need_refresh(&c, 0));
	aws_imds_cleanup(&m);
}

static void test_creds_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "{\"Code\":\"Failure\",\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\","
	    "\"Token\":\"t\",\"Expiration\":\"2017-05-17T15:09:54Z\"}",
	    "{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\",\"Token\":\"t\"}",
	    "{\"AccessKeyId\":1,\"SecretAccessKey\":\"b\",\"Token\":\"t\","
	    "\"Expiration\":\"2017-05-17T15:09:54Z\"}",
	    "{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\",\"Token\":\"t\","
	    "\"Expiration\":\"tomorrow\"}",
	    "{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\",\"Token\":\"t\",",
	    "[]",
	};
	struct aws_creds c;
	mg_err e = {{0}};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (aws_creds_parse(bad[i], strlen(bad[i]), &c, &e) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_string_equal(c.access_key_id, "");
		/* errors never carry the secret */
		assert_null(strstr(e.msg, "\"b\""));
	}
	static const char frac[] = "{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\","
				   "\"Token\":\"t\",\"Expiration\":\"2017-05-17T15:09:54.123Z\"}";
	assert_int_equal(aws_creds_parse(frac, strlen(frac), &c, &e), 0);
	assert_int_equal(c.expiration, 1495033794);
}

static void test_probe(void **state)
{
	char b[64];

	(void)state;
	snprintf(b, sizeof(b), "http://127.0.0.1:%d", S.port);
	assert_int_equal(aws_imds_probe(b, 1000), 1);
	/* nothing listening on port 9 */
	assert_int_equal(aws_imds_probe("http://127.0.0.1:9", 300), 0);
}

static void write_file(const char *dir, const char *name, const char *val)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/class/dmi/id/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", val);
	fclose(f);
}

static void test_dmi_detect(void **state)
{
	char root[] = "/tmp/mg-dmi-XXXXXX", p[512];
	struct cloud_endpoints ep = {0};
	const struct cloud_provider_ops *ops;
	mg_err why = {{0}};

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/class", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/class/dmi", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/class/dmi/id", root);
	assert_int_equal(mkdir(p, 0755), 0);

	/* a plain PC: no hint, no probe, immediate answer */
	write_file(root, "sys_vendor", "LENOVO");
	assert_int_equal(cloud_dmi_hint(root), CLOUD_HINT_NONE);
	assert_null(cloud_detect(root, &ep, 1000, &why));
	/* the reason alone: the caller says "not a cloud VM (...)" once */
	assert_string_equal(why.msg, "DMI names no provider");

	/* configured metadata endpoint: probed even without a hint */
	snprintf(ep.metadata, sizeof(ep.metadata), "http://127.0.0.1:%d", S.port);
	assert_ptr_equal(cloud_detect(root, &ep, 1000, &why), &cloud_aws_ops);

	write_file(root, "sys_vendor", "Google");
	assert_int_equal(cloud_dmi_hint(root), CLOUD_HINT_GCP);
	assert_null(cloud_detect(root, &ep, 100, &why));
	assert_contains(why.msg, "GCP");
	write_file(root, "sys_vendor", "Microsoft Corporation");
	write_file(root, "chassis_asset_tag", "7783-7084-3265-9085-8269-3286-77");
	assert_int_equal(cloud_dmi_hint(root), CLOUD_HINT_AZURE);
	write_file(root, "sys_vendor", "QEMU");
	write_file(root, "chassis_asset_tag", "OracleCloud.com");
	assert_int_equal(cloud_dmi_hint(root), CLOUD_HINT_OCI);
	write_file(root, "chassis_asset_tag", "");
	write_file(root, "board_asset_tag", "i-0123456789abcdef0");
	assert_int_equal(cloud_dmi_hint(root), CLOUD_HINT_AWS);
	write_file(root, "board_asset_tag", "");
	write_file(root, "bios_vendor", "Amazon EC2");
	assert_int_equal(cloud_dmi_hint(root), CLOUD_HINT_AWS);

	/* AWS by DMI, metadata unreachable: bounded wait, then a reason */
	snprintf(ep.metadata, sizeof(ep.metadata), "http://127.0.0.1:9");
	ops = cloud_detect(root, &ep, 300, &why);
	assert_null(ops);
	assert_contains(why.msg, "DMI says AWS");

	/* the provider end to end through the ops against the local metadata server */
	snprintf(ep.metadata, sizeof(ep.metadata), "http://127.0.0.1:%d", S.port);
	struct cloud_open_opts oo = {.ep = ep};
	struct cloud_provider *prov = cloud_aws_ops.open(&oo, &why);
	struct cloud_identity id;
	assert_non_null(prov);
	assert_int_equal(cloud_aws_ops.identity(prov, &id, &why), 0);
	assert_int_equal(cloud_aws_ops.refresh_credentials(prov, false, &why), 0);
	cloud_aws_ops.close(prov);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identity_and_token), cmocka_unit_test(test_credentials),
	    cmocka_unit_test(test_creds_parse_bad),    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_dmi_detect),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
