/* SPDX-License-Identifier: MIT */
/*
 * The controller API client: every call the agent makes to the controller (enrol, fetch
 * or long-poll the config, report status) and the one place where an answer becomes a
 * typed result. One libcurl easy handle per request, configured the same way for
 * blocking use (`up`, `check`) and for the daemon's multi handle. Trust is the pin from
 * the connection string (CURLOPT_PINNEDPUBLICKEY), checked in the TLS handshake before
 * any token or secret is sent; a CA file may be used in addition.
 */
#ifndef MG_CTLC_H
#define MG_CTLC_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct ctlc_target {
	char url[256];     /* https://host:port */
	char pin[128];     /* sha256//... */
	char ca_file[256]; /* optional: also verify the chain and host name */
};

/* What an exchange with the controller came to. The message (mg_err) says it in words. */
enum ctlc_result {
	CTLC_OK = 0,            /* 2xx: the answer is in the request's body */
	CTLC_NOT_MODIFIED,      /* 304: the config has not changed */
	CTLC_ERR_TRANSPORT,     /* unreachable, timed out, TLS failed, answer too large */
	CTLC_ERR_PIN,           /* the controller's key is not the pinned one */
	CTLC_ERR_REVOKED,       /* this connector was deleted: tear everything down */
	CTLC_ERR_DISABLED,      /* this connector is disabled: the hub drops its traffic */
	CTLC_ERR_CREDENTIALS,   /* the controller does not know our credentials */
	CTLC_ERR_TOKEN_USED,    /* enrolment: the token was spent already */
	CTLC_ERR_TOKEN_EXPIRED, /* enrolment: the token expired */
	CTLC_ERR_TOKEN_INVALID, /* enrolment: the controller does not know the token */
	CTLC_ERR_REFUSED,       /* any other API error (status and code in the message) */
	CTLC_ERR_PROTOCOL,      /* a 2xx answer that is not what the API promises */
	CTLC_ERR_IDENTITY,      /* 409 identity_in_use: another host holds this identity */
};

/* "revoked", "transport"...: for logs and tests. */
const char *ctlc_result_name(enum ctlc_result r);

/* One request in flight (for the daemon's curl multi handle). */
struct ctlc_req;

/* GET /api/v1/device/config?wait=WAIT_S, conditional on `if_none_match` (may be NULL). */
struct ctlc_req *ctlc_config_req(const struct ctlc_target *t, const char *secret,
				 const char *if_none_match, int wait_s, mg_err *e);
/* POST /api/v1/device/status with `json`. */
struct ctlc_req *ctlc_status_req(const struct ctlc_target *t, const char *secret, const char *json,
				 mg_err *e);
/* The easy handle to add to a multi handle (its CURLINFO_PRIVATE is the request). */
CURL *ctlc_req_handle(struct ctlc_req *r);
/* A finished transfer (curl's result code), as a typed result with e set on errors. */
enum ctlc_result ctlc_req_finish(struct ctlc_req *r, CURLcode rc, mg_err *e);
/* After CTLC_OK: the body (NUL-terminated; the request keeps it) and the ETag ("" if none). */
const char *ctlc_req_body(const struct ctlc_req *r, size_t *len);
const char *ctlc_req_etag(const struct ctlc_req *r);
/* Wipes credentials and the body, frees. NULL is a no-op. */
void ctlc_req_free(struct ctlc_req *r);

/* Blocking calls. */
struct ctlc_enrolment {
	char device_id[64];
	char device_secret[128];
	char network_id[64];
};
/* POST /api/v1/enroll: the single-use token and our public key for an identity. */
enum ctlc_result ctlc_enroll(const struct ctlc_target *t, const char *token,
			     const char *public_key_b64, struct ctlc_enrolment *out, mg_err *e);
/* One config fetch; with `secret` NULL an anonymous probe (check: the controller must
 * answer CTLC_ERR_CREDENTIALS). On CTLC_OK *json is the document (heap, caller frees). */
enum ctlc_result ctlc_fetch_config(const struct ctlc_target *t, const char *secret, int wait_s,
				   long timeout_ms, char **json, size_t *len, mg_err *e);

/*
 * Whether requests carry this host's fingerprint (hostid.h), i.e. claim the identity for
 * this host: only the daemon (`meshgate run`) does. One-shot commands (up, check, doctor)
 * neither claim nor can be refused: a sandboxed service may see another boot id than a
 * shell on the same machine (a container manager's boot id under the service's own
 * /proc), and `check` on the host that runs the agent must not look like a clone.
 */
void ctlc_claim_identity(bool on);

/* libcurl global init/cleanup wrappers (once per process). */
int ctlc_global_init(mg_err *e);
void ctlc_global_cleanup(void);

#endif
