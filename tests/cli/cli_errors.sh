#!/usr/bin/env bash
# Bad input end to end: every class of spec and argument error exits 2 with a one-line message
# naming file:line:column (or the key), and leaves no output file behind.
set -u
akt="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

# expect STATUS PATTERN ARGS...: runs akt, checks the exit status, that stderr matches the
# extended regular expression PATTERN on its first line, and that stdout is empty.
expect() {
    local want_status="$1" pattern="$2"
    shift 2
    checks=$((checks + 1))
    "$akt" "$@" >"$work/out" 2>"$work/err"
    local status=$?
    local first
    first=$(head -n 1 "$work/err")
    if [ "$status" -ne "$want_status" ] || ! grep -Eq -- "$pattern" <<<"$first" || [ -s "$work/out" ]; then
        failures=$((failures + 1))
        echo "FAIL: akt $* -> status $status (want $want_status), stderr: $first (want /$pattern/), stdout bytes: $(wc -c <"$work/out")"
    fi
}

spec() { # spec NAME: writes stdin to $work/NAME.yaml
    cat >"$work/$1.yaml"
}

spec good <<'Y'
seed: 3
data: {task: linear, dim: 8, source: {samples: 20}, target: {samples: 6}, test: {samples: 30}}
network: {activation: linear}
source: {gamma: 1.0, weight_decay: 0.05, time: 5}
target: {time: 5, regimes: [scratch, readout, joint]}
solver: {method: exact}
Y

# missing and unreadable files
expect 2 "nothere\.yaml" check "$work/nothere.yaml"
expect 2 "nothere\.yaml" solve "$work/nothere.yaml"

# malformed YAML: libyaml reports the line and column of the problem
spec malformed <<'Y'
seed: 1
data:
  task: linear
   dim: [1, 2
Y
expect 2 "malformed\.yaml:[0-9]+:[0-9]+" check "$work/malformed.yaml"

# duplicate key
spec duplicate <<'Y'
seed: 1
seed: 2
Y
expect 2 "duplicate\.yaml:2:1.*seed" check "$work/duplicate.yaml"

# unknown key with a suggestion
spec unknown <<'Y'
seed: 1
source:
  gama: 1.0
Y
expect 2 "unknown\.yaml:3:3.*gama.*did you mean.*gamma" check "$work/unknown.yaml"

# wrong type
spec wrongtype <<'Y'
source:
  gamma: abc
Y
expect 2 "wrongtype\.yaml:2:10.*source\.gamma" check "$work/wrongtype.yaml"

# out-of-range values, each at a known line and column
spec gamma <<'Y'
target:
  gamma: 0
Y
expect 2 "gamma\.yaml:2:10.*target\.gamma" check "$work/gamma.yaml"
spec samples <<'Y'
data:
  source: {samples: 0}
Y
expect 2 "samples\.yaml:2:21.*samples" check "$work/samples.yaml"
spec alignment <<'Y'
data:
  alignment: 1.5
Y
expect 2 "alignment\.yaml:2:14.*data\.alignment" check "$work/alignment.yaml"
spec decay <<'Y'
source:
  weight_decay: -0.1
Y
expect 2 "decay\.yaml:2:17.*source\.weight_decay" check "$work/decay.yaml"
spec activation <<'Y'
network: {activation: sigmoid}
Y
expect 2 "activation\.yaml:1:23.*sigmoid" check "$work/activation.yaml"

# cross-key rules
spec lazydecay <<'Y'
source: {weight_decay: 0.05}
target: {weight_decay: 0}
solver: {method: lazy}
Y
expect 2 "weight_decay" check "$work/lazydecay.yaml"
spec jointconverge <<'Y'
source: {time: converge}
target: {regimes: [joint]}
Y
expect 2 "joint" check "$work/jointconverge.yaml"

# overrides
expect 2 "--set" check "$work/good.yaml" --set source.gamma
expect 2 "data\.alignment" check "$work/good.yaml" --set data.alignment=2
expect 2 "did you mean" check "$work/good.yaml" --set source.gama=1

# arguments
expect 2 "unknown command" frobnicate
expect 2 "unknown option" solve "$work/good.yaml" --frob
expect 2 "needs a SPEC" solve

# a method that cannot serve the network is refused, naming the regime and the method that will
spec relu <<'Y'
data: {task: linear, dim: 8, source: {samples: 20}, target: {samples: 6}, test: {samples: 30}}
network: {activation: relu}
solver: {method: exact}
Y
expect 2 "regime source.*exact.*population" solve "$work/relu.yaml"
spec tanh <<'Y'
data: {task: linear, dim: 8, source: {samples: 20}, target: {samples: 6}, test: {samples: 30}}
network: {activation: tanh}
source: {weight_decay: 0}
target: {weight_decay: 0}
solver: {method: lazy}
Y
expect 2 "tanh" solve "$work/tanh.yaml"

# issue 17: a spec is read with its length. A NUL byte is an error at its line:column, never the
# end of the spec (here it would silently drop the linear network and solve a relu one).
printf 'seed: 7\0\nnetwork: {activation: linear}\n' >"$work/nul_middle.yaml"
expect 2 "nul_middle\.yaml:1:8: NUL byte" check "$work/nul_middle.yaml"
expect 2 "nul_middle\.yaml:1:8: NUL byte" solve "$work/nul_middle.yaml"
printf 'seed: 7\nsource: {gamma: 1}\n  \0' >"$work/nul_late.yaml"
expect 2 "nul_late\.yaml:3:3: NUL byte" check "$work/nul_late.yaml"
# a file that starts with a NUL byte (any binary file) is not the empty, all-defaults spec
printf '\0seed: 7\n' >"$work/nul_first.yaml"
expect 2 "nul_first\.yaml:1:1: NUL byte" solve "$work/nul_first.yaml"
# a device or an endless stream stops at the 16 MiB limit, at once (the timeout is the check)
checks=$((checks + 1))
start=$(date +%s)
timeout 20 "$akt" solve /dev/zero >"$work/out" 2>"$work/err"
status=$?
if [ "$status" -ne 2 ] || ! grep -q "^akt: /dev/zero: larger than 16 MiB, the limit for a spec" "$work/err" \
    || [ -s "$work/out" ] || [ $(( $(date +%s) - start )) -gt 10 ]; then
    failures=$((failures + 1))
    echo "FAIL: akt solve /dev/zero -> status $status after $(( $(date +%s) - start )) s: $(head -n 1 "$work/err")"
fi
checks=$((checks + 1))
timeout 20 "$akt" check <(yes 'seed: 7') >"$work/out" 2>"$work/err"
status=$?
if [ "$status" -ne 2 ] || ! grep -q "larger than 16 MiB" "$work/err" || [ -s "$work/out" ]; then
    failures=$((failures + 1))
    echo "FAIL: akt check on an endless stream -> status $status: $(head -n 1 "$work/err")"
fi
# exactly 16 MiB of YAML (a comment) is still read: the limit refuses only what is over it
checks=$((checks + 1))
{ printf '#'; head -c $((16 * 1024 * 1024 - 2)) /dev/zero | tr '\0' ' '; printf '\n'; } >"$work/limit.yaml"
if [ "$(wc -c <"$work/limit.yaml")" -ne $((16 * 1024 * 1024)) ] || ! "$akt" check "$work/limit.yaml" >"$work/out" 2>"$work/err"; then
    failures=$((failures + 1))
    echo "FAIL: a 16 MiB spec was refused: $(head -n 1 "$work/err")"
fi
printf ' ' >>"$work/limit.yaml"
expect 2 "limit\.yaml: larger than 16 MiB" check "$work/limit.yaml"
# the empty spec stays valid: every default, and akt check prints the template (itself a spec
# that checks to the same text)
checks=$((checks + 1))
: >"$work/empty.yaml"
if ! "$akt" check "$work/empty.yaml" >"$work/template.yaml" 2>"$work/err" || ! grep -q "^seed: " "$work/template.yaml" \
    || ! "$akt" check "$work/template.yaml" >"$work/again.yaml" 2>>"$work/err" \
    || ! cmp -s "$work/template.yaml" "$work/again.yaml"; then
    failures=$((failures + 1))
    echo "FAIL: the empty spec: $(head -n 1 "$work/err")"
fi

# bad input leaves no output directory behind
expect 2 "alignment\.yaml" data "$work/alignment.yaml" --out "$work/never"
checks=$((checks + 1))
if [ -e "$work/never" ]; then
    failures=$((failures + 1))
    echo "FAIL: akt data with a bad spec created $work/never"
fi

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
