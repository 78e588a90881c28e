/* SPDX-License-Identifier: MIT */
/* Provider detection without DMI hints (a configured metadata endpoint, no DMI files): the
 * probes run AWS, Azure, GCP, then OCI's IMDS v2 (GET /opc/v2/instance/ with
 * "Authorization: Bearer Oracle"), OCI only when no other provider answered; a metadata
 * endpoint that never answers costs a bounded time; no endpoint and no DMI: no request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cloud.h"

#define MAXLOG 32
static struct {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	const char *mode; /* "oci": an OCI IMDS v2; "azure": an Azure IMDS */
	int n;
	char log[MAXLOG][160]; /* "METHOD url auth" */
} S;

static const char oci_instance[] =
    "{\"id\":\"ocid1.instance.oc1.eu-frankfurt-1.aaaa\",\"compartmentId\":"
    "\"ocid1.compartment.oc1..bbbb\",\"canonicalRegionName\":\"eu-frankfurt-1\","
    "\"regionInfo\":{\"realmDomainComponent\":\"oraclecloud.com\"}}";

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **ptr)
{
	const char *auth, *body = "{\"code\":\"NotFound\",\"message\":\"no\"}";
	unsigned status = 404;

	(void)cls, (void)version, (void)upload;
	if (!*ptr) {
		*ptr = &S;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	pthread_mutex_lock(&S.mu);
	if (S.n < MAXLOG)
		snprintf(S.log[S.n++], sizeof(S.log[0]), "%s %s %s", method, url,
			 auth ? auth : "-");
	if (!strcmp(S.mode, "oci") && !strcmp(method, "GET") && !strcmp(url, "/opc/v2/instance/")) {
		/* IMDS v2 refuses a request without its header */
		if (auth && !strcmp(auth, "Bearer Oracle"))
			status = 200, body = oci_instance;
		else
			status = 401, body = "{\"code\":\"NotAuthenticated\",\"message\":\"no\"}";
	} else if (!strcmp(S.mode, "azure") && !strcmp(url, "/metadata/instance")) {
		status = 200, body = "{\"compute\":{}}";
	}
	pthread_mutex_unlock(&S.mu);
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static int setup(void **state)
{
	(void)state;
	pthread_mutex_init(&S.mu, NULL);
	S.mode = "oci";
	S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_req, NULL,
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

static void reset(const char *mode)
{
	pthread_mutex_lock(&S.mu);
	S.mode = mode;
	S.n = 0;
	memset(S.log, 0, sizeof(S.log));
	pthread_mutex_unlock(&S.mu);
}

static bool logged(const char *prefix)
{
	bool hit = false;

	pthread_mutex_lock(&S.mu);
	for (int i = 0; i < S.n && !hit; i++)
		hit = !strncmp(S.log[i], prefix, strlen(prefix));
	pthread_mutex_unlock(&S.mu);
	return hit;
}

/* A sysfs root without DMI files (containers, hypervisors that hide them). */
static void no_dmi(char *root)
{
	assert_non_null(mkdtemp(root));
}

static void test_oci_without_dmi(void **state)
{
	char root[] = "/tmp/mg-nodmi-XXXXXX";
	struct cloud_endpoints ep = {0};
	mg_err why = {""};

	(void)state;
	no_dmi(root);
	assert_int_equal(cloud_dmi_hint(root), CLOUD_HINT_NONE);
	snprintf(ep.metadata, sizeof(ep.metadata), "http://127.0.0.1:%d", S.port);
	reset("oci");
	assert_ptr_equal(cloud_detect(root, &ep, 1000, &why), &cloud_oci_ops);
	/* the others were asked first, and OCI's probe carried its header */
	assert_true(logged("PUT /latest/api/token"));
	assert_true(logged("GET /metadata/instance"));
	assert_true(logged("GET /opc/v2/instance/ Bearer Oracle"));
	assert_false(logged("GET /opc/v2/instance/ -"));

	/* another provider answers: OCI is not probed at all */
	reset("azure");
	assert_ptr_equal(cloud_detect(root, &ep, 1000, &why), &cloud_azure_ops);
	assert_false(logged("GET /opc/v2/"));

	/* nobody answers: not a cloud VM, with the reason */
	reset("none");
	assert_null(cloud_detect(root, &ep, 1000, &why));
	assert_non_null(strstr(why.msg, "did not answer"));
	assert_true(logged("GET /opc/v2/instance/ Bearer Oracle"));

	/* no DMI and no endpoint configured: no request at all */
	reset("oci");
	assert_null(cloud_detect(root, NULL, 1000, &why));
	assert_int_equal(S.n, 0);
	rmdir(root);
}

/* An endpoint that accepts connections and never answers: every probe gives up in time. */
static void test_hung_endpoint_bounded(void **state)
{
	char root[] = "/tmp/mg-nodmi-XXXXXX";
	struct cloud_endpoints ep = {0};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	struct timespec t0, t1;
	mg_err why = {""};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0); /* never accepted: the kernel completes connects */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	no_dmi(root);
	snprintf(ep.metadata, sizeof(ep.metadata), "http://127.0.0.1:%d", ntohs(a.sin_port));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(cloud_detect(root, &ep, 200, &why));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("four probes of a hung endpoint, 200 ms each: %.2f s\n", s);
	/* a bound, not a speed check: four probes at 200 ms, with room for a loaded host */
	assert_true(s < 10.0);
	close(fd);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oci_without_dmi),
	    cmocka_unit_test(test_hung_endpoint_bounded),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
