/* SPDX-License-Identifier: MIT */
#include "httpc.h"

#include "version.h"

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct httpc_abort *a = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return a->aborted && a->aborted(a->ud) ? 1 : 0;
}

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (curl_easy_setopt(h, opt, val) != CURLE_OK)                                     \
			return mg_err_set(e, "libcurl: cannot set " #opt);                         \
	} while (0)

int httpc_setup(CURL *h, const struct httpc_opts *o, mg_err *e)
{
	SET(CURLOPT_URL, o->url);
	SET(CURLOPT_PROTOCOLS_STR, o->protocols ? o->protocols : "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	if (o->errbuf) {
		o->errbuf[0] = '\0';
		SET(CURLOPT_ERRORBUFFER, o->errbuf);
	}
	SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000L);
	SET(CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 20000L);
	SET(CURLOPT_USERAGENT, "meshgate/" MG_VERSION);
	if (!o->use_proxy)
		SET(CURLOPT_NOPROXY, "*");
	if (o->body) {
		SET(CURLOPT_WRITEFUNCTION, mg_buf_write_cb);
		SET(CURLOPT_WRITEDATA, o->body);
	}
	if (o->pinned_key && o->pinned_key[0])
		SET(CURLOPT_PINNEDPUBLICKEY, o->pinned_key);
	if (o->pin_only && o->pinned_key && o->pinned_key[0] && !(o->ca_file && o->ca_file[0])) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
		if (o->ca_file && o->ca_file[0])
			SET(CURLOPT_CAINFO, o->ca_file);
	}
	if (o->abort) {
		SET(CURLOPT_XFERINFOFUNCTION, on_progress);
		SET(CURLOPT_XFERINFODATA, (void *)o->abort);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
	return 0;
}
