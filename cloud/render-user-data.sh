#!/usr/bin/env bash
# Renders one of the cloud/*/user-data.yaml templates into a ready user-data file.
#
# WHAT IT CREATES: the output file only, mode 0600 (it holds the connection string).
# WHAT IT GRANTS: nothing; it talks to no cloud and no network.
#
# The connection string is read from a file (--connect-file), never from an argument, so
# it does not show up in `ps` or shell history. The other values may be given as options
# or in the environment (MESHGATE_SOURCE, MESHGATE_REF, MESHGATE_DEB_URL,
# MESHGATE_RUN_OPTS); they end up inside single quotes in a shell file on the instance,
# so single quotes, dollar signs, backslashes and newlines are refused.
#
# Example:
#   install -m 600 /dev/null conn.txt && cat > conn.txt    # paste, then Ctrl-D
#   cloud/render-user-data.sh --template cloud/oracle/user-data.yaml \
#       --connect-file conn.txt --source https://git.example.com/meshgate.git \
#       --out /tmp/meshgate-user-data.yaml
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: render-user-data.sh --template FILE --connect-file FILE --source URL --out FILE
                           [--ref REF] [--deb-url URL] [--run-opts "OPTS"]

Replaces ${MESHGATE_CONNECT}, ${MESHGATE_SOURCE}, ${MESHGATE_REF}, ${MESHGATE_DEB_URL}
and ${MESHGATE_RUN_OPTS} in a cloud/*/user-data.yaml template and writes the result
with mode 0600.

  --template FILE      one of cloud/{aws,azure,gcp,oracle}/user-data.yaml
  --connect-file FILE  file holding the connection string (mg1:...)
  --source URL         git URL of the meshgate sources   (env MESHGATE_SOURCE)
  --ref REF            branch or tag (default main)     (env MESHGATE_REF)
  --deb-url URL        https URL of a prebuilt .deb     (env MESHGATE_DEB_URL; optional)
  --run-opts "OPTS"    options for `meshgate run`        (env MESHGATE_RUN_OPTS; optional)
  --out FILE           where to write (created 0600; an existing file is replaced)
  -h, --help           this text
EOF
}

die() {
	echo "render-user-data.sh: $*" >&2
	exit 2
}

template="" connect_file="" out=""
source_url=${MESHGATE_SOURCE:-}
ref=${MESHGATE_REF:-main}
deb_url=${MESHGATE_DEB_URL:-}
run_opts=${MESHGATE_RUN_OPTS:-}

while [ $# -gt 0 ]; do
	case $1 in
	--template) template=${2-}; shift 2 || die "--template needs a value" ;;
	--connect-file) connect_file=${2-}; shift 2 || die "--connect-file needs a value" ;;
	--source) source_url=${2-}; shift 2 || die "--source needs a value" ;;
	--ref) ref=${2-}; shift 2 || die "--ref needs a value" ;;
	--deb-url) deb_url=${2-}; shift 2 || die "--deb-url needs a value" ;;
	--run-opts) run_opts=${2-}; shift 2 || die "--run-opts needs a value" ;;
	--out) out=${2-}; shift 2 || die "--out needs a value" ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
done

[ -n "$template" ] || die "--template is required"
[ -f "$template" ] || die "no such template: $template"
[ -n "$connect_file" ] || die "--connect-file is required"
[ -r "$connect_file" ] || die "cannot read the connection string file: $connect_file"
[ -n "$source_url" ] || die "--source (or MESHGATE_SOURCE) is required"
[ -n "$out" ] || die "--out is required"

for pair in "source:$source_url" "ref:$ref" "deb-url:$deb_url" "run-opts:$run_opts"; do
	name=${pair%%:*} value=${pair#*:}
	case $value in
	*"'"* | *\\* | *'$'* | *$'\n'* | *$'\r'*) die "--$name must not contain quotes, dollar signs, backslashes or newlines" ;;
	esac
done
case $deb_url in
"" | https://*) ;;
*) die "--deb-url must be an https:// URL" ;;
esac

conn=$(tr -d ' \t\r\n' <"$connect_file")
case $conn in
mg1:*) ;;
*) die "$connect_file does not hold a connection string (it must start with mg1:)" ;;
esac
case ${conn#mg1:} in
"" | *[!A-Za-z0-9_=-]*) die "$connect_file: the connection string is damaged (base64url expected after mg1:)" ;;
esac

umask 077
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# Plain string replacement (index/substr, no regular expressions, so '&' and '/' in URLs
# are safe); the connection string reaches awk through a file, not its arguments.
MG_SOURCE=$source_url MG_REF=$ref MG_DEB=$deb_url MG_OPTS=$run_opts \
	awk -v connfile=/dev/stdin '
	function rep(s, key, val,    out, i) {
		out = ""
		while ((i = index(s, key)) > 0) {
			out = out substr(s, 1, i - 1) val
			s = substr(s, i + length(key))
		}
		return out s
	}
	BEGIN {
		getline conn < connfile
		k["${MESHGATE_CONNECT}"] = conn
		k["${MESHGATE_SOURCE}"] = ENVIRON["MG_SOURCE"]
		k["${MESHGATE_REF}"] = ENVIRON["MG_REF"]
		k["${MESHGATE_DEB_URL}"] = ENVIRON["MG_DEB"]
		k["${MESHGATE_RUN_OPTS}"] = ENVIRON["MG_OPTS"]
	}
	{
		for (key in k)
			$0 = rep($0, key, k[key])
		print
	}' "$template" >"$tmp" <<<"$conn"
# shellcheck disable=SC2016 # a literal dollar-brace placeholder, not an expansion
left='[$][{]MESHGATE_[A-Z_]*[}]'
if grep -q "$left" "$tmp"; then
	die "$template has a placeholder this script does not know: $(grep -o "$left" "$tmp" | sort -u | tr '\n' ' ')"
fi
chmod 600 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "render-user-data.sh: wrote $out (mode 0600)"
