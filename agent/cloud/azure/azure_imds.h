/* SPDX-License-Identifier: MIT */
/* Azure IMDS: the instance document and managed-identity tokens for ARM (`Metadata: true`,
 * never a proxy, api-version always, retries on 404/410/429/5xx with backoff). */
#ifndef MG_AZURE_IMDS_H
#define MG_AZURE_IMDS_H

#include <stdbool.h>

#include "azure_json.h"
#include "cloud.h"
#include "err.h"
#include "httpc.h"

#define AZ_IMDS_DEFAULT "http://169.254.169.254"
#define AZ_ARM_RESOURCE "https://management.azure.com/"

struct az_imds {
	char base[CLOUD_URL_LEN]; /* no trailing '/' */
	char client_id[64];       /* user-assigned identity; "" = system-assigned */
	long timeout_ms;
	int max_attempts;                /* per call, retryable answers included */
	long backoff_ms;                 /* first retry delay; doubles */
	const struct cloud_hooks *hooks; /* aborted: give up; sleeps go through it */
	struct httpc_abort abort;
};

/* base NULL or "" = AZ_IMDS_DEFAULT. */
int az_imds_init(struct az_imds *m, const char *base, const char *client_id,
		 const struct cloud_hooks *hooks, mg_err *e);
/* 1 when /metadata/instance answers 200 within timeout_ms (one attempt), else 0. */
int az_imds_probe(const char *base, long timeout_ms);
int az_imds_instance(struct az_imds *m, struct az_imds_doc *d, mg_err *e);
/* A token for ARM; the caller wipes it. */
int az_imds_token(struct az_imds *m, struct az_token *t, mg_err *e);

#endif
