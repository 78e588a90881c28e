/* SPDX-License-Identifier: MIT */
/* meshgate-controller-mock: command line, state directory, start-up. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "connstr.h"
#include "ctl.h"
#include "fsutil.h"
#include "ha.h"
#include "http.h"
#include "hub.h"
#include "log.h"

#define DEFAULT_STATE_DIR "/var/lib/meshgate-controller-mock"
#define DEFAULT_LISTEN    "0.0.0.0:8443"
#define DEFAULT_MESH      "100.96.0.0/11"
#define DEFAULT_MESH6     "fd6d:6773::/64"

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: meshgate-controller-mock [options]\n"
	       "\n"
	       "A small controller and WireGuard hub for meshgate connectors (HTTPS + JSON).\n"
	       "\n"
	       "  --state-dir DIR         where the store, TLS key/cert, pin, admin token and hub\n"
	       "                          key live (created 0700; default " DEFAULT_STATE_DIR ")\n"
	       "  --listen ADDR:PORT      address to serve HTTPS on; IPv6 as [ADDR]:PORT\n"
	       "                          (default " DEFAULT_LISTEN ")\n"
	       "  --public-url URL        https://host:port as connectors reach it; goes into\n"
	       "                          connection strings and the certificate's name. Default:\n"
	       "                          https://<listen address>; required when listening on a\n"
	       "                          wildcard address (0.0.0.0 or ::)\n"
	       "  --mesh-range CIDR       tunnel address range; the hub takes its first address\n"
	       "                          (default " DEFAULT_MESH ")\n"
	       "  --mesh-range6 CIDR|none IPv6 tunnel address range beside an IPv4 --mesh-range:\n"
	       "                          every connector and user gets an address in both, the\n"
	       "                          hub the first one (default " DEFAULT_MESH6 "; none:\n"
	       "                          IPv4 only; none too when --mesh-range is IPv6)\n"
	       "  --token-ttl SECONDS     lifetime of enrolment tokens (default 86400)\n"
	       "  --hub-endpoint H:PORT   WireGuard endpoint connectors dial (default: the public\n"
	       "                          URL's host and --hub-port)\n"
	       "  --hub-port N            WireGuard port of the hub (default 51820)\n"
	       "  --hub-ifname NAME       WireGuard interface of the hub (default mg-hub)\n"
	       "  --no-hub                do not manage a hub interface (API only)\n"
	       "  --hub-down-on-exit      remove the hub interface when stopping; by default it\n"
	       "                          keeps forwarding (the data plane outlives a controller\n"
	       "                          restart, which adopts it again)\n"
	       "  --identity-live-s S     a connector's host counts as present this long after\n"
	       "                          its last request (or while its long-poll is open);\n"
	       "                          another host with the same identity is refused\n"
	       "                          meanwhile (default 10)\n"
	       "  --max-connections N     agent connections served at once (long-polls included;\n"
	       "                          default 16384); 64 more are kept for the admin API.\n"
	       "                          The descriptor limit is raised to its hard limit\n"
	       "  --dump-store            print the store (state directory's store.db) as one\n"
	       "                          JSON document and exit; works beside a running one\n"
	       "  --eager-render          a change renders every document it may affect before\n"
	       "                          it is answered (by default they are rendered as their\n"
	       "                          long-polls are answered); for comparison (bench_fleet)\n"
	       "  --log-level L           error, warn, info or debug (default info)\n"
	       "  --help                  this text\n"
	       "  --version               print the version\n"
	       "\n"
	       "At first start it makes key.pem/cert.pem (EC P-256, self-signed), pin (for\n"
	       "libcurl's pinned public key), admin.token (0600) and hub.key (0600) in the state\n"
	       "directory; later starts reuse them. Stops cleanly on SIGTERM or SIGINT.\n");
}

/* "https://host[:port]" -> host (brackets removed). */
static int url_host(const char *url, char *host, size_t len)
{
	const char *h = url + strlen("https://"), *end;

	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = h + strcspn(h, ":/");
	}
	if (!end || end == h || (size_t)(end - h) >= len)
		return -1;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	return 0;
}

static bool is_wildcard(const char *listen)
{
	char host[CONFIG_ENDPOINT_MAX];
	uint8_t fam, a[16], zero[16] = {0};
	uint16_t port;

	if (config_split_endpoint(listen, host, sizeof(host), &port) < 0 ||
	    addr_parse(host, &fam, a) < 0)
		return false;
	return !memcmp(a, zero, fam == AF_INET ? 4 : 16);
}

static long parse_num(const char *s, long min, long max, const char *opt)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min || v > max) {
		fprintf(stderr, "meshgate-controller-mock: %s must be a number from %ld to %ld\n",
			opt, min, max);
		exit(2);
	}
	return v;
}

/* --mesh-range6: an IPv6 range beside an IPv4 --mesh-range, or none. 0, or -1 (logged). */
static int parse_mesh6(const struct cidr *mesh, const char *arg, struct cidr *out, bool *on)
{
	mg_err e = {0};

	*on = false;
	if (mesh->family == AF_INET6) {
		if (arg && strcmp(arg, "none") != 0) {
			log_err("--mesh-range6 %s: --mesh-range is IPv6 already; an IPv6 range "
				"goes beside an IPv4 one",
				arg);
			return -1;
		}
		return 0;
	}
	if (!arg)
		arg = DEFAULT_MESH6;
	if (!strcmp(arg, "none"))
		return 0;
	if (cidr_parse(arg, out, 0, &e) < 0 || out->family != AF_INET6 ||
	    cidr_max_len(out) - out->len < 2) {
		if (!e.msg[0])
			mg_err_set(&e,
				   "\"%s\" must be an IPv6 range leaving room for the hub "
				   "and connectors, or none",
				   arg);
		log_err("--mesh-range6: %s", e.msg);
		return -1;
	}
	*on = true;
	return 0;
}

/* Temporaries a controller killed mid-write left beside the state files (lib/fsutil). A
 * failure to remove them is worth a warning, not a refusal to start. */
static void clean_stale_temps(const struct ctl_ctx *ctx)
{
	static const char *const files[] = {CTL_STORE_LEGACY, "admin.token", "hub.key",
					    "key.pem",        "cert.pem",    "pin"};
	char path[sizeof(ctx->state_dir) + 32];
	mg_err e = {0};

	for (size_t i = 0; i < MG_ARRAY_SIZE(files); i++) {
		unsigned n = 0;

		snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, files[i]);
		if (fs_clean_stale_temps(path, &n, &e) < 0)
			log_warn("%s", e.msg);
		else if (n)
			log_info("removed %u stale temporary file(s) of %s left by a killed "
				 "writer",
				 n, path);
	}
}

int main(int argc, char **argv)
{
	enum {
		O_STATE = 256,
		O_LISTEN,
		O_URL,
		O_MESH,
		O_MESH6,
		O_TTL,
		O_HUBEP,
		O_HUBPORT,
		O_HUBIF,
		O_NOHUB,
		O_HUBDOWN,
		O_LOG,
		O_IDLIVE,
		O_MAXCONN,
		O_DUMP,
		O_EAGER,
		O_HELP,
		O_VERSION
	};
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, O_STATE},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"public-url", required_argument, NULL, O_URL},
	    {"mesh-range", required_argument, NULL, O_MESH},
	    {"mesh-range6", required_argument, NULL, O_MESH6},
	    {"token-ttl", required_argument, NULL, O_TTL},
	    {"hub-endpoint", required_argument, NULL, O_HUBEP},
	    {"hub-port", required_argument, NULL, O_HUBPORT},
	    {"hub-ifname", required_argument, NULL, O_HUBIF},
	    {"no-hub", no_argument, NULL, O_NOHUB},
	    {"hub-down-on-exit", no_argument, NULL, O_HUBDOWN},
	    {"log-level", required_argument, NULL, O_LOG},
	    {"identity-live-s", required_argument, NULL, O_IDLIVE},
	    {"max-connections", required_argument, NULL, O_MAXCONN},
	    {"dump-store", no_argument, NULL, O_DUMP},
	    {"eager-render", no_argument, NULL, O_EAGER},
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	static struct ctl_ctx ctx;
	const char *state_dir = DEFAULT_STATE_DIR, *listen = DEFAULT_LISTEN, *url = NULL;
	const char *mesh_s = DEFAULT_MESH, *mesh6_s = NULL, *hub_ep = NULL, *hub_if = "mg-hub";
	char host[CONFIG_ENDPOINT_MAX], ep_host[CONFIG_ENDPOINT_MAX], mesh_b[CIDR_STRLEN];
	char mesh6_b[CIDR_STRLEN];
	long hub_port = 51820;
	int level = MG_LOG_INFO, opt, rc = 1;
	bool dump = false;
	struct cidr mesh, mesh6;
	bool has6 = false;
	uint16_t port;
	mg_err e = {0};

	ctx.token_ttl = 86400;
	ctx.timer_fd = -1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case O_STATE:
			state_dir = optarg;
			break;
		case O_LISTEN:
			listen = optarg;
			break;
		case O_URL:
			url = optarg;
			break;
		case O_MESH:
			mesh_s = optarg;
			break;
		case O_MESH6:
			mesh6_s = optarg;
			break;
		case O_TTL:
			ctx.token_ttl = parse_num(optarg, 1, 365L * 86400, "--token-ttl");
			break;
		case O_HUBEP:
			hub_ep = optarg;
			break;
		case O_HUBPORT:
			hub_port = parse_num(optarg, 1, 65535, "--hub-port");
			break;
		case O_HUBIF:
			hub_if = optarg;
			break;
		case O_IDLIVE:
			ctx.ident_live_ms = parse_num(optarg, 1, 3600, "--identity-live-s") * 1000;
			break;
		case O_HUBDOWN:
			ctx.hub_down_on_exit = true;
			break;
		case O_NOHUB:
			ctx.no_hub = true;
			break;
		case O_EAGER:
			ctx.eager_render = true;
			break;
		case O_LOG:
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "meshgate-controller-mock: --log-level must be "
						"error, warn, info or debug\n");
				return 2;
			}
			break;
		case O_DUMP:
			dump = true;
			break;
		case O_MAXCONN:
			ctx.max_connections =
			    (unsigned)parse_num(optarg, 1, 1000000, "--max-connections");
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		case O_VERSION:
			printf("meshgate-controller-mock %s\n", MG_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgate-controller-mock: unexpected argument \"%s\"\n",
			argv[optind]);
		return 2;
	}
	log_init("meshgate-controller-mock", (enum mg_log_level)level);
	if (dump) {
		char db[sizeof(ctx.store_path)];
		snprintf(db, sizeof(db), "%.4095s/" CTL_STORE_FILE, state_dir);
		if (store_dump(db, &e) < 0) {
			log_err("%s", e.msg);
			return 1;
		}
		return 0;
	}

	if (cidr_parse(mesh_s, &mesh, 0, &e) < 0 || cidr_max_len(&mesh) - mesh.len < 2) {
		if (!e.msg[0])
			mg_err_set(&e, "it must leave room for the hub and connectors");
		log_err("--mesh-range: %s", e.msg);
		return 2;
	}
	if (parse_mesh6(&mesh, mesh6_s, &mesh6, &has6) < 0)
		return 2;
	if (config_split_endpoint(listen, host, sizeof(host), &port) < 0) {
		log_err("--listen \"%s\" must be ADDR:PORT or [IPv6]:PORT", listen);
		return 2;
	}
	if (!url) {
		if (is_wildcard(listen)) {
			log_err("--listen %s is a wildcard address: pass --public-url "
				"https://<address connectors reach>:%u",
				listen, port);
			return 2;
		}
		snprintf(ctx.public_url, sizeof(ctx.public_url),
			 strchr(host, ':') ? "https://[%s]:%u" : "https://%s:%u", host, port);
	} else {
		snprintf(ctx.public_url, sizeof(ctx.public_url), "%s", url);
	}
	if (connstr_check_url(ctx.public_url, &e) < 0 ||
	    url_host(ctx.public_url, host, sizeof(host)) < 0) {
		log_err("--public-url \"%s\": %s", ctx.public_url, e.msg[0] ? e.msg : "bad host");
		return 2;
	}
	if (hub_ep)
		snprintf(ctx.hub_endpoint, sizeof(ctx.hub_endpoint), "%s", hub_ep);
	else
		snprintf(ctx.hub_endpoint, sizeof(ctx.hub_endpoint),
			 strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host, hub_port);
	if (config_split_endpoint(ctx.hub_endpoint, ep_host, sizeof(ep_host), &port) < 0) {
		log_err("--hub-endpoint \"%s\" must be HOST:PORT or [IPv6]:PORT", ctx.hub_endpoint);
		return 2;
	}
	if (!*hub_if || strlen(hub_if) >= sizeof(ctx.hub_ifname) || strchr(hub_if, '/')) {
		log_err("--hub-ifname \"%s\" must be 1 to 15 characters", hub_if);
		return 2;
	}
	snprintf(ctx.hub_ifname, sizeof(ctx.hub_ifname), "%s", hub_if);
	if ((size_t)snprintf(ctx.state_dir, sizeof(ctx.state_dir), "%s", state_dir) >=
		sizeof(ctx.state_dir) ||
	    (size_t)snprintf(ctx.store_path, sizeof(ctx.store_path), "%s/" CTL_STORE_FILE,
			     state_dir) >= sizeof(ctx.store_path)) {
		log_err("--state-dir is too long");
		return 2;
	}

	umask(077);
	store_init(&ctx.store, &mesh);
	store_set_mesh6(&ctx.store, has6 ? &mesh6 : NULL);
	if (fs_mkdir_p(ctx.state_dir, 0700, &e) < 0 || chmod(ctx.state_dir, 0700) < 0) {
		log_err("state directory %s: %s", ctx.state_dir,
			e.msg[0] ? e.msg : "cannot set mode 0700");
		goto out;
	}
	clean_stale_temps(&ctx);
	ctx.hub_port = (uint16_t)hub_port;
	if (store_load(&ctx.store, ctx.store_path, &e) < 0 || ha_start(&ctx, &e) < 0 ||
	    secrets_setup(&ctx, &e) < 0 || tls_setup(&ctx, host, &e) < 0 ||
	    render_refresh(&ctx, &e) < 0 || store_save(&ctx.store, ctx.store_path, &e) < 0 ||
	    hub_sync(&ctx, &e) < 0 || http_start(&ctx, listen, &e) < 0) {
		log_err("%s", e.msg);
		goto out;
	}
	printf("meshgate-controller-mock %s\n", MG_VERSION);
	printf("listening:   https://%s (public URL %s)\n", listen, ctx.public_url);
	printf("admin token: %s/admin.token\n", ctx.state_dir);
	printf("pin:         %s\n", ctx.pin);
	printf("mesh range:  %s%s%s, hub endpoint %s\n", cidr_format(&mesh, mesh_b),
	       has6 ? " and " : "", has6 ? cidr_format(&mesh6, mesh6_b) : "", ctx.hub_endpoint);
	fflush(stdout);
	log_info("%zu network(s), %zu connector(s) loaded", ctx.store.n_nets, ctx.store.n_conns);
	if (http_serve(&ctx, &e) < 0) {
		log_err("%s", e.msg);
		goto out;
	}
	rc = ctx.failed ? 1 : 0;
out:
	http_stop(&ctx);
	hub_stop(&ctx, ctx.hub_down_on_exit);
	ha_stop(&ctx);
	store_free(&ctx.store);
	OPENSSL_cleanse(ctx.hub_priv, sizeof(ctx.hub_priv));
	free(ctx.tls_key_pem);
	free(ctx.tls_cert_pem);
	return rc;
}
