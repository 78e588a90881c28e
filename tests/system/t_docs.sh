#!/usr/bin/env bash
# The man pages and the bash completion against the programs' own --help texts:
#  (a) man/meshgate.8 and man/meshgate-controller-mock.8 render without a single groff
#      warning, `man -l` makes text of them, nothing overflows 78 columns, the required
#      sections are there, EXIT STATUS lists every code of agent/cli/cli.h;
#  (b) every command that `meshgate --help` lists has a subsection of COMMANDS and a
#      SYNOPSIS line, and every long option that `meshgate <command> --help` prints has
#      an entry of its own in that subsection ("-x, --long" where --help pairs them);
#      every long option of `meshgate-controller-mock --help` has an entry in OPTIONS;
#      no subsection documents a command that does not exist. `check` and `cleanup`
#      are required with their specified options while the binary does not know them
#      yet, and with whatever their --help says once it does;
#  (c) dist/bash-completion/meshgate, loaded by bash-completion itself through the
#      installed layout (the file plus a meshgate-controller-mock symlink), offers every
#      command, every option of every command, the values of --wg-mode, --cloud and
#      --log-level (also as --opt=value), directories only for --state-dir, files (and
#      -) for --connect-file, nothing for --connect, and prints nothing on stderr.
# Runs as any user; touches nothing outside its temporary directory.
set -euo pipefail

MG_BUILD=${MG_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
MG_SRC=${MG_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
MESHGATE=$MG_BUILD/agent/meshgate
CTLMOCK=$MG_BUILD/controller-mock/meshgate-controller-mock
MAN_AGENT=$MG_SRC/man/meshgate.8
MAN_CTL=$MG_SRC/man/meshgate-controller-mock.8
COMPLETION=$MG_SRC/dist/bash-completion/meshgate
BASH_COMPLETION=${MG_BASH_COMPLETION:-/usr/share/bash-completion/bash_completion}

log() { printf '[t_docs] %s\n' "$*" >&2; }
skip() {
	log "SKIP: $*"
	exit 77
}
nfail=0
fail() {
	log "FAIL: $*"
	nfail=$((nfail + 1))
}
# a parser that found nothing would make every check below pass: stop at once
sanity() {
	log "FAIL (parser sanity): $*"
	exit 1
}

for t in groff man awk; do
	command -v "$t" >/dev/null || skip "$t is not installed (scripts/deps installs it)"
done
[ -f "$BASH_COMPLETION" ] || skip "$BASH_COMPLETION missing (package bash-completion)"
if [ ! -x "$MESHGATE" ] || [ ! -x "$CTLMOCK" ]; then
	skip "build first: $MESHGATE, $CTLMOCK"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mg-t_docs.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export LC_ALL=C.UTF-8

# An option is documented when it heads an entry of its own (a tag of a .TP paragraph,
# 7 columns in), alone or after its short form: "--cloud-api URL", "-s, --state-dir DIR".
# A mention in another option's text does not count.
has_entry() { # file option-or-pair
	grep -qE -- "^       (-[a-zA-Z], )?$2([ =]|$)" "$1"
}
# The long options a help text mentions, one per line.
long_opts() { { grep -oE -- '--[a-z][a-z0-9-]*' || true; } | sort -u; }
# "-x, --long" pairs of a help text, one per line.
short_pairs() { { grep -oE -- '^ +-[a-zA-Z], --[a-z][a-z0-9-]*' || true; } | sed 's/^ *//' | sort -u; }
# One top-level section of a rendered page (headings start in column 0).
section() { # file heading
	awk -v s="$2" '$0 == s { on = 1; next } /^[A-Z]/ { if (on) exit } on' "$1"
}

# ---------------------------------------------------------------------------------------
log "(a) rendering"
render() { # page out: plain text, wide lines, no formatting
	groff -man -Tascii -P-cbou -rLL=250n "$1" >"$2"
}
for page in "$MAN_AGENT" "$MAN_CTL"; do
	name=$(basename "$page")
	[ -f "$page" ] || {
		fail "$page is missing"
		continue
	}
	if ! groff -man -ww -z "$page" 2>"$TMP/warn" || [ -s "$TMP/warn" ]; then
		fail "$name: groff -man -ww reports: $(cat "$TMP/warn")"
	fi
	if ! groff -man -ww -Tutf8 "$page" >/dev/null 2>"$TMP/warn" || [ -s "$TMP/warn" ]; then
		fail "$name: groff -Tutf8 reports: $(cat "$TMP/warn")"
	fi
	if ! MANWIDTH=80 MANPAGER=cat PAGER=cat man --warnings -l "$page" >"$TMP/man.txt" \
		2>"$TMP/warn" || [ -s "$TMP/warn" ]; then
		fail "$name: man -l reports: $(cat "$TMP/warn")"
	fi
	lines=$(wc -l <"$TMP/man.txt")
	[ "$lines" -ge 50 ] || fail "$name: man -l made $lines lines of text"
	grep -q '^NAME' "$TMP/man.txt" || fail "$name: man -l output has no NAME section"
	groff -man -Tascii -P-cbou -rLL=78n "$page" |
		awk -v n="$name" 'length > 78 { printf "%s: %d columns: %s\n", n, length, $0 }' >"$TMP/wide"
	[ -s "$TMP/wide" ] && fail "lines overflow 78 columns: $(cat "$TMP/wide")"
	log "  $name: no warnings (groff -ww, -Tutf8, man -l), $lines lines at 80 columns"
done
render "$MAN_AGENT" "$TMP/agent.txt"
render "$MAN_CTL" "$TMP/ctl.txt"

need_sections() { # text name sections...
	local txt=$1 name=$2 s
	shift 2
	for s in "$@"; do
		grep -qx "$s" "$txt" || fail "$name: no section $s"
	done
}
need_sections "$TMP/agent.txt" meshgate.8 NAME SYNOPSIS DESCRIPTION COMMANDS \
	"CONNECTION STRINGS" FILES SIGNALS "EXIT STATUS" ENVIRONMENT SECURITY EXAMPLES "SEE ALSO"
need_sections "$TMP/ctl.txt" meshgate-controller-mock.8 NAME SYNOPSIS DESCRIPTION OPTIONS \
	FILES "ADMIN API" SIGNALS "EXIT STATUS" EXAMPLES "SEE ALSO"
section "$TMP/agent.txt" "SEE ALSO" >"$TMP/seealso"
for ref in 'wg(8)' 'nft(8)' 'ip-route(8)' 'systemd.service(5)' 'meshgate-controller-mock(8)'; do
	grep -qF "$ref" "$TMP/seealso" || fail "meshgate.8: SEE ALSO lacks $ref"
done
grep -qF 'meshgate(8)' <(section "$TMP/ctl.txt" "SEE ALSO") ||
	fail "meshgate-controller-mock.8: SEE ALSO lacks meshgate(8)"
for f in /var/lib/meshgate /etc/sysctl.d/90-meshgate.conf /etc/default/meshgate \
	/lib/systemd/system/meshgate.service /etc/iproute2/rt_protos.d/meshgate.conf; do
	grep -qF "$f" <(section "$TMP/agent.txt" FILES) || fail "meshgate.8: FILES lacks $f"
done
grep -q MESHGATE_RUN_OPTS "$TMP/agent.txt" || fail "meshgate.8 does not name MESHGATE_RUN_OPTS"

# the exit codes of agent/cli/cli.h, each a tag of EXIT STATUS
mapfile -t codes < <(sed -nE 's/^[[:space:]]*EXIT_[A-Z_]+[[:space:]]*=[[:space:]]*([0-9]+).*/\1/p' \
	"$MG_SRC/agent/cli/cli.h")
[ "${#codes[@]}" -ge 5 ] || sanity "found ${#codes[@]} exit codes in agent/cli/cli.h"
section "$TMP/agent.txt" "EXIT STATUS" >"$TMP/exit"
for c in "${codes[@]}"; do
	grep -qE "^       $c( |$)" "$TMP/exit" || fail "meshgate.8: EXIT STATUS lacks $c (agent/cli/cli.h)"
done
log "  sections, SEE ALSO, FILES and the ${#codes[@]} exit codes of agent/cli/cli.h are there"

# ---------------------------------------------------------------------------------------
log "(b) commands and options of --help against the man pages"
"$MESHGATE" --help >"$TMP/help" || fail "meshgate --help exits $?"
mapfile -t cmds < <(awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
	on && match($0, /^  [a-z][a-z-]*  /) { print $1 }' "$TMP/help")
[ "${#cmds[@]}" -ge 5 ] || sanity "found ${#cmds[@]} commands in meshgate --help"
for c in up run status down; do
	printf '%s\n' "${cmds[@]}" | grep -qx "$c" || sanity "command $c not found in meshgate --help"
done

# The commands specified before they reach this branch's binary, with their options.
declare -A spec_opts=(
	[check]='--connect --connect-file --state-dir --wg-mode --wg-userspace-bin --timeout --json --help'
	[cleanup]='--state-dir --ifname --help'
)
declare -A spec_pairs=([check]='-s, --state-dir -h, --help' [cleanup]='-s, --state-dir -i, --ifname -h, --help')
all_cmds=("${cmds[@]}")
for c in check cleanup; do
	if ! printf '%s\n' "${cmds[@]}" | grep -qx "$c"; then
		all_cmds+=("$c")
		log "  $c: not in this binary yet; checked against its specified options"
	fi
done

# the COMMANDS section, one file per subsection ("   name" headings)
mkdir "$TMP/sec"
section "$TMP/agent.txt" COMMANDS |
	awk -v d="$TMP/sec" '/^   [a-z][a-z-]*$/ { f = d "/" $1; next } f { print > f }'
section "$TMP/agent.txt" SYNOPSIS >"$TMP/synopsis"

total=0
mkdir "$TMP/opts"
for c in "${all_cmds[@]}"; do
	if printf '%s\n' "${cmds[@]}" | grep -qx "$c"; then
		"$MESHGATE" "$c" --help >"$TMP/help.$c" 2>&1 || fail "meshgate $c --help exits $?"
		long_opts <"$TMP/help.$c" >"$TMP/opts/$c"
		short_pairs <"$TMP/help.$c" >"$TMP/pairs.$c"
	else
		tr ' ' '\n' <<<"${spec_opts[$c]}" >"$TMP/opts/$c"
		sed -E 's/ (-[a-zA-Z], )/\n\1/g' <<<"${spec_pairs[$c]}" >"$TMP/pairs.$c"
	fi
	n=$(wc -l <"$TMP/opts/$c")
	total=$((total + n))
	if [ ! -f "$TMP/sec/$c" ]; then
		fail "meshgate.8: COMMANDS has no subsection for $c"
		continue
	fi
	grep -qE "^ +meshgate $c( |$)" "$TMP/synopsis" || fail "meshgate.8: SYNOPSIS lacks meshgate $c"
	while read -r o; do
		has_entry "$TMP/sec/$c" "$o" || fail "meshgate.8: $c: option $o (from --help) has no entry"
	done <"$TMP/opts/$c"
	while read -r p; do
		[ -n "$p" ] || continue
		has_entry "$TMP/sec/$c" "$p" || fail "meshgate.8: $c: no entry \"$p\" (from --help)"
	done <"$TMP/pairs.$c"
	log "  $c: $n long options, $(grep -c . "$TMP/pairs.$c") short forms"
done
# a subsection for a command nobody knows is stale
for f in "$TMP"/sec/*; do
	c=$(basename "$f")
	printf '%s\n' "${all_cmds[@]}" | grep -qx "$c" || fail "meshgate.8: subsection $c is not a command of meshgate --help"
done
# the parser must have seen the options of run (20 and more) and an option listed after
# a comma ("--cloud-metadata URL, --cloud-api URL, ...")
[ "$(wc -l <"$TMP/opts/run")" -ge 15 ] || sanity "only $(wc -l <"$TMP/opts/run") options of run parsed"
grep -qx -- --cloud-sysfs "$TMP/opts/run" || sanity "--cloud-sysfs of run not parsed"
[ "$total" -ge 40 ] || sanity "only $total options parsed in all"

"$CTLMOCK" --help >"$TMP/help.ctl" || fail "meshgate-controller-mock --help exits $?"
long_opts <"$TMP/help.ctl" >"$TMP/opts.ctl"
nctl=$(wc -l <"$TMP/opts.ctl")
[ "$nctl" -ge 10 ] || sanity "only $nctl options in meshgate-controller-mock --help"
section "$TMP/ctl.txt" OPTIONS >"$TMP/ctl.options"
while read -r o; do
	has_entry "$TMP/ctl.options" "$o" || fail "meshgate-controller-mock.8: option $o (from --help) has no entry in OPTIONS"
done <"$TMP/opts.ctl"
log "  ${#all_cmds[@]} commands, $total command options; controller: $nctl options"

# ---------------------------------------------------------------------------------------
log "(c) bash completion"
# the installed layout: the file, and a symlink for the second command
mkdir -p "$TMP/bc/completions" "$TMP/cwd/sd1" "$TMP/cwd/sd2"
: >"$TMP/cwd/f1.txt"
cp "$COMPLETION" "$TMP/bc/completions/meshgate"
ln -s meshgate "$TMP/bc/completions/meshgate-controller-mock"
cat >"$TMP/driver.sh" <<'EOF'
# usage: bash driver.sh WORD... (the last word is the one being completed, maybe "")
# Loads the completion the way an interactive shell does (bash-completion's loader,
# looking in $BASH_COMPLETION_USER_DIR/completions) and prints COMPREPLY, one per line.
. "$MG_BASH_COMPLETION"
if declare -F __load_completion >/dev/null; then
	__load_completion "$1" || { echo "LOADER-FAILED" ; exit 0; }
elif declare -F _comp_load >/dev/null; then
	_comp_load "$1" || { echo "LOADER-FAILED" ; exit 0; }
else
	echo "NO-LOADER"
	exit 0
fi
spec=$(complete -p "$1" 2>/dev/null) || { echo "NOT-REGISTERED"; exit 0; }
fn=$(sed -nE 's/.* -F ([^ ]+) .*/\1/p' <<<"$spec")
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
# the line as typed: "--opt" "=" "value" are three words (bash splits at '=', see
# COMP_WORDBREAKS) but one string without spaces
COMP_LINE=$1
for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
	if [ "${COMP_WORDS[i]}" = "=" ] || [ "${COMP_WORDS[i - 1]}" = "=" ]; then
		COMP_LINE+=${COMP_WORDS[i]}
	else
		COMP_LINE+=" ${COMP_WORDS[i]}"
	fi
done
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
EOF
nq=0
complete_words() { # words... -> $TMP/reply
	nq=$((nq + 1))
	(cd "$TMP/cwd" && env -i PATH="$PATH" HOME="$TMP" LC_ALL=C.UTF-8 \
		BASH_COMPLETION_USER_DIR="$TMP/bc" MG_BASH_COMPLETION="$BASH_COMPLETION" \
		bash --norc --noprofile "$TMP/driver.sh" "$@") >"$TMP/reply" 2>"$TMP/reply.err" ||
		fail "completion of [$*] failed: $(cat "$TMP/reply.err")"
	# the completion must not print anything itself (it would garble the command line)
	[ -s "$TMP/reply.err" ] && fail "completion of [$*] wrote to stderr: $(cat "$TMP/reply.err")"
	if grep -qxE 'LOADER-FAILED|NO-LOADER|NOT-REGISTERED' "$TMP/reply"; then
		fail "completion of [$*]: $(cat "$TMP/reply") (bash-completion did not load $1 from the installed layout)"
		return 1
	fi
}
expect() { # description words-expected... (each must be offered)
	local what=$1 w missing=()
	shift
	for w in "$@"; do
		grep -qxF -- "$w" "$TMP/reply" || missing+=("$w")
	done
	[ ${#missing[@]} -eq 0 ] ||
		fail "completion: $what: not offered: ${missing[*]} (offered: $(tr '\n' ' ' <"$TMP/reply"))"
}
refuse() { # description words (none may be offered)
	local what=$1 w
	shift
	for w in "$@"; do
		grep -qxF -- "$w" "$TMP/reply" && fail "completion: $what: \"$w\" offered"
	done
	return 0
}

# both commands must load before anything else is worth asking
loaded=1
for prog in meshgate meshgate-controller-mock; do
	complete_words "$prog" "" || loaded=0
done
if [ "$loaded" -eq 0 ]; then
	log "$nfail check(s) failed; the completion did not load, nothing more asked of it"
	exit 1
fi

complete_words meshgate ""
expect "meshgate <TAB>" "${all_cmds[@]}"
complete_words meshgate -
expect "meshgate -<TAB>" --help --version
for c in "${all_cmds[@]}"; do
	[ -s "$TMP/opts/$c" ] || continue
	complete_words meshgate "$c" --
	mapfile -t want <"$TMP/opts/$c"
	expect "meshgate $c --<TAB>" "${want[@]}"
done
for c in run down check; do
	complete_words meshgate "$c" --wg-mode ""
	expect "meshgate $c --wg-mode <TAB>" auto kernel userspace
done
for c in run down; do
	complete_words meshgate "$c" --cloud ""
	expect "meshgate $c --cloud <TAB>" auto aws none
	complete_words meshgate "$c" --log-level ""
	expect "meshgate $c --log-level <TAB>" error warn info debug
done
complete_words meshgate run --log-level = d
expect "meshgate run --log-level=d<TAB>" debug
refuse "meshgate run --log-level=d<TAB>" error warn info
complete_words meshgate status --state-dir ""
expect "meshgate status --state-dir <TAB>" sd1 sd2
refuse "meshgate status --state-dir <TAB>" f1.txt
complete_words meshgate status --state-dir = ""
expect "meshgate status --state-dir=<TAB>" sd1 sd2
complete_words meshgate run -s ""
expect "meshgate run -s <TAB>" sd1 sd2
refuse "meshgate run -s <TAB>" f1.txt
complete_words meshgate up --connect-file ""
expect "meshgate up --connect-file <TAB>" f1.txt -
complete_words meshgate up --ca-file ""
expect "meshgate up --ca-file <TAB>" f1.txt
complete_words meshgate up --connect ""
refuse "meshgate up --connect <TAB> (a secret, not a file)" f1.txt sd1 --help

complete_words meshgate-controller-mock --
mapfile -t want <"$TMP/opts.ctl"
expect "meshgate-controller-mock --<TAB>" "${want[@]}"
complete_words meshgate-controller-mock --log-level ""
expect "meshgate-controller-mock --log-level <TAB>" error warn info debug
complete_words meshgate-controller-mock --state-dir ""
expect "meshgate-controller-mock --state-dir <TAB>" sd1 sd2
refuse "meshgate-controller-mock --state-dir <TAB>" f1.txt
log "  $nq completions asked through bash-completion's loader (file + symlink layout)"

# the values the completion offers are the ones --help names
for v in auto kernel userspace; do grep -qw "$v" "$TMP/help.run" || fail "run --help does not name --wg-mode $v"; done
for v in auto aws none; do grep -qw "$v" "$TMP/help.run" || fail "run --help does not name --cloud $v"; done
for v in error warn info debug; do
	grep -qw "$v" "$TMP/help.run" || fail "run --help does not name --log-level $v"
	grep -qw "$v" "$TMP/help.ctl" || fail "meshgate-controller-mock --help does not name --log-level $v"
done

if [ "$nfail" -ne 0 ]; then
	log "$nfail check(s) failed"
	exit 1
fi
log "PASS"
