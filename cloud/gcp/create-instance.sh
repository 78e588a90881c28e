#!/usr/bin/env bash
# meshgate connector on Google Cloud: creates the instance with gcloud.
#
# WHAT IT CREATES (in PROJECT):
#   - the instance NAME in ZONE, with --can-ip-forward (the forwarding switch: GCP only
#     lets it be set at creation; without it the VPC drops what the connector forwards),
#     network tag meshgate-connector, and metadata user-data = user-data.yaml beside this
#     script with its variables filled in (rendered by ../render-user-data.sh into a 0600
#     file in a private temporary directory, removed on exit)
#   - with LAN_CIDR set: the firewall rule NAME-allow-lan (ingress, all protocols, from
#     LAN_CIDR to the tag): the VPC's traffic to the mesh reaches the connector. Egress
#     (WireGuard UDP to the hub, HTTPS to the controller) is open by GCP's implied rule and
#     needs nothing; nothing is allowed in from the internet.
#   - only with MANAGE_ROUTES=true: the custom role projects/PROJECT/roles/ROLE_ID, the
#     service account SA_NAME@PROJECT.iam.gserviceaccount.com, a project-level binding of
#     the role to it, and the instance runs as that account (scope: compute)
#
# WHAT IT GRANTS (only with MANAGE_ROUTES=true; with false the instance has no service
# account at all and meshgate writes no routes: add the VPC routes yourself, next hop this
# instance). Exactly the permissions meshgate's GCP driver names (gcp_permissions[] in
# agent/cloud/gcp/gcp_compute.c; a test checks that this list is that one), one per call:
#   compute.routes.list           routes.list: find meshgate's routes (named mg-*)
#                                 and the routes they must not fight
#   compute.routes.create         routes.insert: a route to the mesh or another site (GCP
#                                 routes are immutable: a change is a delete and a create)
#   compute.routes.delete         routes.delete: remove meshgate's own routes (on change or
#                                 `meshgate down`)
#   compute.networks.updatePolicy GCP checks it on the network for every route inserted
#                                 into or deleted from that network
#   compute.instances.get         instances.get: this instance's canIpForward (the
#                                 metadata server does not tell it)
#   compute.globalOperations.get  globalOperations.wait/get: wait for a route insert or
#                                 delete to finish
# Not granted: compute.routes.get (the driver never reads one route: routes.list does),
# compute.instances.setMetadata, compute.networks.get/list, firewall rules.
# The binding is project-wide: Compute Engine has no per-network IAM policy for routes.
#
# THE CONNECTION STRING is read from CONNECT_FILE, never from an argument, and travels
# in the instance's metadata (readable by whoever may read the instance, and by every
# process on it); it holds a single-use token, spent at first boot.
#
# Usage: create-instance.sh --help
set -euo pipefail

# ---- settings: edit here, set in the environment, or pass as options ----
PROJECT=${PROJECT:-}                    # GCP project id
ZONE=${ZONE:-europe-west1-b}
NAME=${NAME:-meshgate}
NETWORK=${NETWORK:-default}             # VPC network the connector serves
SUBNET=${SUBNET:-}                      # subnetwork (empty: the network's in ZONE's region)
LAN_CIDR=${LAN_CIDR:-}                  # VPC ranges allowed in, e.g. 10.128.0.0/9
MACHINE_TYPE=${MACHINE_TYPE:-e2-small}
IMAGE_FAMILY=${IMAGE_FAMILY:-ubuntu-2204-lts}   # needs cloud-init: Ubuntu, not Debian
IMAGE_PROJECT=${IMAGE_PROJECT:-ubuntu-os-cloud}
CONNECT_FILE=${CONNECT_FILE:-}          # file holding the connection string (mg1:...)
MESHGATE_SOURCE=${MESHGATE_SOURCE:-}    # git URL of the meshgate sources
MESHGATE_REF=${MESHGATE_REF:-main}
MESHGATE_DEB_URL=${MESHGATE_DEB_URL:-}  # optional prebuilt .deb (https)
MESHGATE_RUN_OPTS=${MESHGATE_RUN_OPTS:-}
MANAGE_ROUTES=${MANAGE_ROUTES:-true}    # true: service account + custom role
ROLE_ID=${ROLE_ID:-meshgateRouteWriter}
SA_NAME=${SA_NAME:-meshgate-connector}
DRY_RUN=${DRY_RUN:-false}               # true: print the gcloud commands, run none

# the custom role's permissions (see the header for why each one)
ROLE_PERMISSIONS=(
	compute.routes.list
	compute.routes.create
	compute.routes.delete
	compute.networks.updatePolicy
	compute.instances.get
	compute.globalOperations.get
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'EOF'
Usage: create-instance.sh --project ID --connect-file FILE --source URL [options]

Creates a meshgate connector instance on Google Cloud (see the comments at the top of
this script for what it creates and grants). Every option can also be given in the
environment (the name in brackets).

  --project ID          GCP project                                   [PROJECT]
  --zone ZONE           zone (default europe-west1-b)                 [ZONE]
  --name NAME           instance name (default meshgate)              [NAME]
  --network NET         VPC network (default default)                 [NETWORK]
  --subnet SUBNET       subnetwork (default: the network's)           [SUBNET]
  --lan-cidr CIDR       allow the VPC's traffic in from CIDR          [LAN_CIDR]
  --machine-type TYPE   default e2-small                              [MACHINE_TYPE]
  --image-family F      default ubuntu-2204-lts (needs cloud-init)    [IMAGE_FAMILY]
  --image-project P     default ubuntu-os-cloud                       [IMAGE_PROJECT]
  --connect-file FILE   file with the connection string (mg1:...)     [CONNECT_FILE]
  --source URL          git URL of the meshgate sources               [MESHGATE_SOURCE]
  --ref REF             branch or tag (default main)                  [MESHGATE_REF]
  --deb-url URL         https URL of a prebuilt .deb (optional)       [MESHGATE_DEB_URL]
  --run-opts "OPTS"     options for `meshgate run`                    [MESHGATE_RUN_OPTS]
  --manage-routes BOOL  true (default): service account + custom role;
                        false: no service account                     [MANAGE_ROUTES]
  --dry-run             print the gcloud commands instead of running  [DRY_RUN=true]
  -h, --help            this text

The connection string is read from the file, never taken as an argument.
EOF
}

die() {
	echo "create-instance.sh: $*" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--project) PROJECT=${2-}; shift 2 || die "$1 needs a value" ;;
	--zone) ZONE=${2-}; shift 2 || die "$1 needs a value" ;;
	--name) NAME=${2-}; shift 2 || die "$1 needs a value" ;;
	--network) NETWORK=${2-}; shift 2 || die "$1 needs a value" ;;
	--subnet) SUBNET=${2-}; shift 2 || die "$1 needs a value" ;;
	--lan-cidr) LAN_CIDR=${2-}; shift 2 || die "$1 needs a value" ;;
	--machine-type) MACHINE_TYPE=${2-}; shift 2 || die "$1 needs a value" ;;
	--image-family) IMAGE_FAMILY=${2-}; shift 2 || die "$1 needs a value" ;;
	--image-project) IMAGE_PROJECT=${2-}; shift 2 || die "$1 needs a value" ;;
	--connect-file) CONNECT_FILE=${2-}; shift 2 || die "$1 needs a value" ;;
	--source) MESHGATE_SOURCE=${2-}; shift 2 || die "$1 needs a value" ;;
	--ref) MESHGATE_REF=${2-}; shift 2 || die "$1 needs a value" ;;
	--deb-url) MESHGATE_DEB_URL=${2-}; shift 2 || die "$1 needs a value" ;;
	--run-opts) MESHGATE_RUN_OPTS=${2-}; shift 2 || die "$1 needs a value" ;;
	--manage-routes) MANAGE_ROUTES=${2-}; shift 2 || die "$1 needs a value" ;;
	--dry-run) DRY_RUN=true; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
done

[ -n "$PROJECT" ] || die "--project is required"
[ -n "$CONNECT_FILE" ] || die "--connect-file is required"
[ -n "$MESHGATE_SOURCE" ] || die "--source is required"
case $MANAGE_ROUTES in true | false) ;; *) die "--manage-routes is true or false" ;; esac
case $DRY_RUN in true | false) ;; *) die "DRY_RUN is true or false" ;; esac
if [ "$DRY_RUN" = false ] && ! command -v gcloud >/dev/null 2>&1; then
	die "gcloud not found (install the Google Cloud CLI, or use --dry-run)"
fi

# run CMD...: runs it, or with --dry-run prints it (shell-quoted) and succeeds
run() {
	if [ "$DRY_RUN" = true ]; then
		printf '+'
		printf ' %q' "$@"
		printf '\n'
	else
		"$@"
	fi
}

# exists CMD...: whether a describe succeeds (always "no" in a dry run)
exists() {
	[ "$DRY_RUN" = false ] && "$@" >/dev/null 2>&1
}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
userdata=$workdir/user-data.yaml
"$here/../render-user-data.sh" --template "$here/user-data.yaml" --connect-file "$CONNECT_FILE" \
	--source "$MESHGATE_SOURCE" --ref "$MESHGATE_REF" --deb-url "$MESHGATE_DEB_URL" \
	--run-opts "$MESHGATE_RUN_OPTS" --out "$userdata" >/dev/null

sa_flags=(--no-service-account --no-scopes)
if [ "$MANAGE_ROUTES" = true ]; then
	perms=$(IFS=,; echo "${ROLE_PERMISSIONS[*]}")
	role=projects/$PROJECT/roles/$ROLE_ID
	sa=$SA_NAME@$PROJECT.iam.gserviceaccount.com
	if exists gcloud iam roles describe "$ROLE_ID" --project "$PROJECT"; then
		# keep the role at exactly this list, whatever it held before
		run gcloud iam roles update "$ROLE_ID" --project "$PROJECT" --permissions "$perms" --quiet
	else
		run gcloud iam roles create "$ROLE_ID" --project "$PROJECT" --stage GA \
			--title "meshgate route writer" \
			--description "meshgate connector: list, create and delete VPC routes" \
			--permissions "$perms"
	fi
	if ! exists gcloud iam service-accounts describe "$sa" --project "$PROJECT"; then
		run gcloud iam service-accounts create "$SA_NAME" --project "$PROJECT" \
			--display-name "meshgate connector $NAME"
	fi
	run gcloud projects add-iam-policy-binding "$PROJECT" --member "serviceAccount:$sa" \
		--role "$role" --condition None --quiet
	sa_flags=(--service-account "$sa" --scopes https://www.googleapis.com/auth/compute)
fi

if [ -n "$LAN_CIDR" ] && ! exists gcloud compute firewall-rules describe "$NAME-allow-lan" --project "$PROJECT"; then
	run gcloud compute firewall-rules create "$NAME-allow-lan" --project "$PROJECT" \
		--network "$NETWORK" --direction INGRESS --action allow --rules all \
		--source-ranges "$LAN_CIDR" --target-tags meshgate-connector \
		--description "meshgate: the VPC's traffic to the mesh reaches the connector"
fi

net_flags=(--network "$NETWORK")
[ -n "$SUBNET" ] && net_flags+=(--subnet "$SUBNET")

run gcloud compute instances create "$NAME" --project "$PROJECT" --zone "$ZONE" \
	--machine-type "$MACHINE_TYPE" --image-family "$IMAGE_FAMILY" --image-project "$IMAGE_PROJECT" \
	"${net_flags[@]}" --can-ip-forward --tags meshgate-connector \
	--shielded-secure-boot --shielded-vtpm --shielded-integrity-monitoring \
	"${sa_flags[@]}" --metadata-from-file "user-data=$userdata"

if [ "$DRY_RUN" = true ]; then
	echo "create-instance.sh: dry run, nothing was created"
else
	echo "create-instance.sh: $NAME created; follow the install with" \
		"gcloud compute instances get-serial-port-output $NAME --zone $ZONE --project $PROJECT"
fi
