/* SPDX-License-Identifier: MIT */
/* The daemon's metric families (dmetrics.h). */
#include "dmetrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "prom.h"
#include "version.h"
#include "wgkey.h"

static const char *const repair_kind[DM_REPAIR__COUNT] = {
    [DM_REPAIR_DATAPATH] = "datapath",
    [DM_REPAIR_SYSCTL] = "sysctl",
    [DM_REPAIR_WIREGUARD] = "wireguard_restart",
};

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k, const char *dflt)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
	return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* Every (provider, action, result) counted so far: a fixed table, so a bounded label set. */
static void api_call_metrics(struct cloudworker *cw, struct mg_buf *b)
{
	struct cloud_call_counts c = {0}; /* 2.3 KB */

	if (cw)
		cw_api_calls(cw, &c);
	prom_family(b, "meshgate_cloud_api_calls_total", "counter",
		    "Cloud API requests (each attempt) by provider, action and result (ok, "
		    "throttled, denied, client_error, server_error, no_answer).");
	for (unsigned s = 0; s < cloud_call_slots(); s++) {
		const char *prov, *act;
		cloud_call_slot_name(s, &prov, &act);
		for (int r = 0; r < CLOUD_CALL_RESULTS; r++)
			if (c.n[s][r])
				prom_sample(b, "meshgate_cloud_api_calls_total", (double)c.n[s][r],
					    "provider", prov, "action", act, "result",
					    cloud_call_result_name(r), NULL);
	}
}

static void cloud_metrics(struct cloudworker *cw, struct mg_buf *b)
{
	cJSON *st = cw ? cw_status(cw) : NULL;
	const cJSON *cn = st ? cJSON_GetObjectItemCaseSensitive(st, "counters") : NULL;
	const cJSON *tot = cn ? cJSON_GetObjectItemCaseSensitive(cn, "totals") : NULL;
	const cJSON *ek = tot ? cJSON_GetObjectItemCaseSensitive(tot, "errors_by_kind") : NULL;
	const cJSON *tabs = st ? cJSON_GetObjectItemCaseSensitive(st, "tables") : NULL, *t, *it;
	const char *prov = str(st, "provider", "none");
	static const char *const actions[][3] = {{"create", "created", "create_failed"},
						 {"replace", "replaced", "replace_failed"},
						 {"delete", "removed", "delete_failed"}};

	prom_family(b, "meshgate_cloud_passes_total", "counter",
		    "Cloud reconcile passes by result (ok, failed).");
	prom_sample(b, "meshgate_cloud_passes_total", num(cn, "passes") - num(cn, "failed_passes"),
		    "provider", prov, "result", "ok", NULL);
	prom_sample(b, "meshgate_cloud_passes_total", num(cn, "failed_passes"), "provider", prov,
		    "result", "failed", NULL);
	prom_family(b, "meshgate_cloud_route_writes_total", "counter",
		    "Cloud route writes (API calls) by provider, action and result.");
	for (size_t i = 0; i < MG_ARRAY_SIZE(actions); i++) {
		prom_sample(b, "meshgate_cloud_route_writes_total", num(tot, actions[i][1]),
			    "provider", prov, "action", actions[i][0], "result", "ok", NULL);
		prom_sample(b, "meshgate_cloud_route_writes_total", num(tot, actions[i][2]),
			    "provider", prov, "action", actions[i][0], "result", "failed", NULL);
	}
	prom_family(b, "meshgate_cloud_errors_total", "counter",
		    "Cloud API calls that failed, by provider and kind of error.");
	cJSON_ArrayForEach(it, ek)
	    prom_sample(b, "meshgate_cloud_errors_total", cJSON_IsNumber(it) ? it->valuedouble : 0,
			"provider", prov, "kind", it->string ? it->string : "", NULL);
	prom_family(b, "meshgate_cloud_routes_recorded", "gauge",
		    "Cloud routes recorded as meshgate's (in cloud.json).");
	prom_sample(b, "meshgate_cloud_routes_recorded", num(st, "owned_routes"), "provider", prov,
		    NULL);
	prom_family(b, "meshgate_cloud_routes_owned", "gauge",
		    "Cloud routes meshgate created and owns, by route table.");
	prom_family(b, "meshgate_cloud_routes_conflicting", "gauge",
		    "Our destinations held by another target's route, by route table.");
	cJSON_ArrayForEach(t, tabs)
	{
		const char *id = str(t, "id", "");
		prom_sample(b, "meshgate_cloud_routes_owned", num(t, "owned"), "provider", prov,
			    "table", id, NULL);
		prom_sample(b, "meshgate_cloud_routes_conflicting", num(t, "conflicts"), "provider",
			    prov, "table", id, NULL);
	}
	cJSON_Delete(st);
	api_call_metrics(cw, b);
}

void dmetrics_render(const struct dmetrics *m, struct dataplane *dp, struct cloudworker *cw,
		     const struct metrics_srv *srv, struct mg_buf *b)
{
	struct dp_stats s;
	struct nft_counters fc;
	mg_err e = {""};
	char peer[WG_KEY_B64_LEN] = "";
	time_t now = time(NULL);

	if (!dp || dp_stats(dp, &s) < 0)
		memset(&s, 0, sizeof(s));
	if (m->have_hub)
		wgkey_to_base64(m->hub_key, peer);

	prom_family(b, "meshgate_build_info", "gauge", "The running meshgate version (always 1).");
	prom_sample(b, "meshgate_build_info", 1, "version", MG_VERSION, NULL);
	prom_family(b, "meshgate_tunnel_up", "gauge", "1 when the tunnel interface is up.");
	prom_sample(b, "meshgate_tunnel_up", s.up ? 1 : 0, "backend",
		    s.backend ? s.backend : "none", NULL);
	prom_family(b, "meshgate_peer_last_handshake_timestamp_seconds", "gauge",
		    "Unix time of the last WireGuard handshake with the peer (0: never).");
	prom_family(b, "meshgate_peer_handshake_age_seconds", "gauge",
		    "Seconds since the last handshake with the peer (NaN: never).");
	prom_family(b, "meshgate_peer_receive_bytes_total", "counter",
		    "Bytes received from the peer through the tunnel.");
	prom_family(b, "meshgate_peer_transmit_bytes_total", "counter",
		    "Bytes sent to the peer through the tunnel.");
	if (m->have_hub && s.up) {
		prom_sample(b, "meshgate_peer_last_handshake_timestamp_seconds",
			    (double)s.last_handshake, "peer", peer, "role", "hub", NULL);
		prom_sample(b, "meshgate_peer_handshake_age_seconds",
			    s.last_handshake ? (double)(now - s.last_handshake) : NAN, "peer", peer,
			    "role", "hub", NULL);
		prom_sample(b, "meshgate_peer_receive_bytes_total", (double)s.rx_bytes, "peer",
			    peer, "role", "hub", NULL);
		prom_sample(b, "meshgate_peer_transmit_bytes_total", (double)s.tx_bytes, "peer",
			    peer, "role", "hub", NULL);
	}
	prom_single(b, "meshgate_routes_desired", "gauge",
		    "Routes through the tunnel the config in force asks for.",
		    (double)m->routes_desired);
	prom_single(b, "meshgate_routes_installed", "gauge",
		    "Routes of meshgate's (protocol 109) in the kernel.", (double)s.routes);
	prom_family(b, "meshgate_repairs_total", "counter",
		    "Drift meshgate repaired, by kind (datapath: tunnel, routes or firewall "
		    "re-applied; sysctl: a value put back; wireguard_restart: the userspace "
		    "WireGuard process restarted).");
	for (int k = 0; k < DM_REPAIR__COUNT; k++)
		prom_sample(b, "meshgate_repairs_total", (double)m->repairs[k], "kind",
			    repair_kind[k], NULL);
	prom_single(b, "meshgate_controller_last_contact_timestamp_seconds", "gauge",
		    "Unix time of the controller's last answer (0: none yet).",
		    (double)m->last_contact);
	prom_family(b, "meshgate_controller_polls_total", "counter",
		    "Config long-polls by result (ok: answered, failed: error or no answer).");
	prom_sample(b, "meshgate_controller_polls_total", (double)m->polls_ok, "result", "ok",
		    NULL);
	prom_sample(b, "meshgate_controller_polls_total", (double)m->polls_failed, "result",
		    "failed", NULL);
	prom_family(b, "meshgate_configs_total", "counter",
		    "Configs received from the controller, by result (applied or refused).");
	prom_sample(b, "meshgate_configs_total", (double)(m->configs_received - m->configs_refused),
		    "result", "accepted", NULL);
	prom_sample(b, "meshgate_configs_total", (double)m->configs_refused, "result", "refused",
		    NULL);
	prom_single(b, "meshgate_config_applied_version", "gauge",
		    "Version of the config in force (-1: none).", (double)m->applied_version);
	prom_single(b, "meshgate_config_applying", "gauge",
		    "1 while the config in force is not fully applied (retrying).",
		    m->applying ? 1 : 0);

	prom_single(b, "meshgate_firewall_table_present", "gauge",
		    "1 when the nftables table inet meshgate is in place.", s.fw_present ? 1 : 0);
	if (dp_fw_counters(dp, &fc, &e) < 0) {
		log_debug("metrics: %s", e.msg);
		memset(&fc, 0, sizeof(fc));
	}
	prom_single(b, "meshgate_nat_packets_total", "counter",
		    "Packets from the tunnel masqueraded to the LAN (counted from the table's "
		    "last rebuild).",
		    (double)fc.nat_packets);
	prom_single(b, "meshgate_nat_bytes_total", "counter",
		    "Bytes from the tunnel masqueraded to the LAN.", (double)fc.nat_bytes);
	prom_family(b, "meshgate_access_dropped_packets_total", "counter",
		    "Packets from the tunnel dropped by the access policy, by chain (forward: to "
		    "the LAN, input: to this host).");
	prom_family(b, "meshgate_access_dropped_bytes_total", "counter",
		    "Bytes from the tunnel dropped by the access policy, by chain.");
	for (int i = 0; i < 2; i++) {
		const char *chain = i ? "input" : "forward";
		prom_sample(b, "meshgate_access_dropped_packets_total", (double)fc.drop_packets[i],
			    "chain", chain, NULL);
		prom_sample(b, "meshgate_access_dropped_bytes_total", (double)fc.drop_bytes[i],
			    "chain", chain, NULL);
	}
	prom_single(b, "meshgate_firewall_warnings", "gauge",
		    "Other firewalls found that will drop mesh traffic (see meshgate status).",
		    (double)s.n_warnings);

	cloud_metrics(cw, b);

	prom_family(b, "meshgate_ha_role", "gauge",
		    "High-availability role of this connector (1 for the current one; \"none\" "
		    "when the network has one connector).");
	prom_sample(b, "meshgate_ha_role", 1, "role", m->ha_role ? m->ha_role : "none", NULL);
	prom_single(b, "meshgate_ha_epoch", "gauge", "High-availability fencing epoch (0: none).",
		    (double)m->ha_epoch);
	prom_single(b, "meshgate_ha_role_changes_total", "counter",
		    "Times this connector's HA role changed (active <-> standby).",
		    (double)m->ha_role_changes);

	prom_family(b, "meshgate_metrics_requests_total", "counter",
		    "Requests to this endpoint by HTTP status (before this one).");
	static const int codes[] = {200, 400, 404, 405, 431, 500};
	for (size_t i = 0; i < MG_ARRAY_SIZE(codes); i++) {
		char c[8];
		snprintf(c, sizeof(c), "%d", codes[i]);
		prom_sample(b, "meshgate_metrics_requests_total",
			    (double)metrics_requests(srv, codes[i]), "code", c, NULL);
	}
}
