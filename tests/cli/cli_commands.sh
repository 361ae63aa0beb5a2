#!/usr/bin/env bash
# The commands end to end on the quickstart: the table, the JSON contract, akt check's output as
# a spec, akt data's files, determinism, and overrides.
set -u
akt="$1"
root="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checks=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
    checks=$((checks + 1))
    if ! "${@:2}"; then
        failures=$((failures + 1))
        echo "FAIL: $1"
    fi
}
# JSON with the seconds fields removed: the rest must be reproducible.
strip_seconds() { sed -E 's/"seconds": [^,}]*//g' "$1"; }

"$akt" >"$work/table" 2>"$work/err"
check "akt with no argument exits 0" test $? -eq 0
for regime in source scratch readout joint; do
    check "table has a $regime row" grep -Eq "^$regime +[0-9]" "$work/table"
done

"$akt" solve "$root/problems/quickstart.yaml" --json >"$work/a.json"
check "solve --json exits 0" test $? -eq 0
"$akt" --json >"$work/builtin.json"
check "the built-in quickstart equals problems/quickstart.yaml" \
    test "$(strip_seconds "$work/a.json" | sed 's/"file": "[^"]*"//')" = \
         "$(strip_seconds "$work/builtin.json" | sed 's/"file": "[^"]*"//')"
"$akt" solve "$root/problems/quickstart.yaml" --json >"$work/b.json"
check "two runs give the same numbers" test "$(strip_seconds "$work/a.json")" = "$(strip_seconds "$work/b.json")"
for field in '"results"' '"regime": "source"' '"regime": "scratch"' '"regime": "readout"' \
    '"regime": "joint"' '"test_loss"' '"train_loss"' '"mc_error"' '"converged": true' \
    '"method": "exact"' '"iterations"' '"residual"' '"stable"' '"spec"'; do
    check "JSON has $field" grep -q "$field" "$work/a.json"
done
if command -v python3 >/dev/null; then
    check "JSON parses" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["results"]) == 4' "$work/a.json"
fi

# akt check prints a valid spec that prints back identically
"$akt" check "$root/problems/quickstart.yaml" >"$work/checked.yaml"
check "check exits 0" test $? -eq 0
"$akt" check "$work/checked.yaml" >"$work/checked2.yaml"
check "check output is a fixed point" cmp -s "$work/checked.yaml" "$work/checked2.yaml"
for spec in "$root"/problems/*.yaml; do
    check "$(basename "$spec") passes akt check" "$akt" check "$spec" >/dev/null
done

# akt data writes exactly the splits the solve uses
"$akt" data "$root/problems/quickstart.yaml" --out "$work/data" 2>/dev/null
check "data exits 0" test $? -eq 0
for split in source:200 target:25 test:2000 source_test:2000; do
    name=${split%%:*}
    rows=${split##*:}
    check "${name}_X.csv has $rows rows" test "$(wc -l <"$work/data/${name}_X.csv")" -eq "$rows"
    check "${name}_y.csv has $rows rows" test "$(wc -l <"$work/data/${name}_y.csv")" -eq "$rows"
    check "${name}_X.csv has 50 columns" test "$(head -n 1 "$work/data/${name}_X.csv" | tr ',' '\n' | wc -l)" -eq 50
done
check "no temporary files left" test -z "$(find "$work/data" -name '*.tmp*')"

# an override changes the problem: full alignment makes the readout regime better than at 0.5
"$akt" --json --set data.alignment=1 >"$work/aligned.json"
check "--set runs" test $? -eq 0
check "--set is reflected in the spec" grep -q '"alignment": 1' "$work/aligned.json"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
