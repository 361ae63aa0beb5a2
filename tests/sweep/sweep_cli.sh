#!/usr/bin/env bash
# akt sweep end to end: rows equal akt solve at the same points (stable, iterations and the
# observable columns too),
# transfer_benefit is scratch minus the regime, JSON lines equal CSV, resume after SIGINT and SIGKILL gives the uninterrupted table
# (the file parses at every sample, no temporary file stays), and bad input exits 2 before any
# file exists.
set -u
akt="$1"
spec="$2"
python="$3"
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

# ---- rows against akt solve --json at the same points -------------------------------------
"$akt" sweep "$spec" --set data.alignment=0,0.5,1 --set target.elastic=0,1 --out "$work/a.csv" 2>"$work/err"
check "sweep exits 0" test $? -eq 0
check "no temporary file stays" test ! -e "$work/a.csv.partial"
# 12 points (target.gamma x data.alignment x target.elastic) share one source split and source
# settings: the source phase runs once.
check "one source phase run, 11 reused" grep -q "source phases: 1 run, 11 reused" "$work/err"
cat >"$work/against_solve.py" <<'EOF'
import csv, json, subprocess, sys
akt, spec, table = sys.argv[1:4]
OBSERVABLES = ["ntk_alignment_train", "ntk_alignment_test", "feature_alignment_train",
               "feature_alignment_test", "retention", "source_test_loss", "hidden_distance",
               "readout_distance", "feature_learning"]
rows = list(csv.DictReader(open(table)))
assert [k for k in rows[0]] == ["point", "target.gamma", "data.alignment", "target.elastic",
    "regime", "test_loss", "train_loss", "mc_error", "transfer_benefit", "converged", "stable",
    "method", "residual", "iterations", "integration_error", "bias", "error", "seconds"] + [
    c for name in OBSERVABLES for c in (name, name + "_error")], list(rows[0])
points = sorted({int(r["point"]) for r in rows})
assert points == list(range(12)), points
compared = 0
for point in points:
    mine = [r for r in rows if int(r["point"]) == point]
    assert [r["regime"] for r in mine] == ["source", "scratch", "readout", "joint"]
    # Row-major, last axis fastest: gamma (2) x alignment (3) x elastic (2).
    g, a, e = point // 6, (point // 2) % 3, point % 2
    assert mine[0]["target.gamma"] == ["0.5", "1.0"][g] and mine[0]["data.alignment"] == ["0", "0.5", "1"][a] \
        and mine[0]["target.elastic"] == ["0", "1"][e], mine[0]
    sets = []
    for key in ("target.gamma", "data.alignment", "target.elastic"):
        sets += ["--set", key + "=" + mine[0][key]]
    out = subprocess.run([akt, "solve", spec, "--json"] + sets, capture_output=True, text=True, check=True).stdout
    # The text of each number, as printed (%.17g in both): equal to the last digit.
    results = {r["regime"]: r for r in json.loads(out, parse_float=str)["results"]}
    scratch = float(mine[1]["test_loss"])
    for r in mine:
        solve = results[r["regime"]]
        for column in ("test_loss", "train_loss", "residual", "integration_error", "bias", "error"):
            expected = str(solve[column]) if solve[column] is not None else ""
            assert r[column] == expected, (point, r["regime"], column, r[column], expected)
        # stable: true/false as JSON's, empty where akt solve says null; iterations: the integer.
        stable = {True: "true", False: "false", None: ""}[solve["stable"]]
        assert r["stable"] == stable, (point, r["regime"], r["stable"], solve["stable"])
        assert r["iterations"] == str(solve["iterations"]), (point, r["regime"], r["iterations"])
        assert r["converged"] == "true" and r["method"] == solve["method"]
        # The observable columns: akt solve's "observables" and "observable_errors", in its order.
        assert list(solve["observables"]) == OBSERVABLES == list(solve["observable_errors"])
        for name in OBSERVABLES:
            for column, value in ((name, solve["observables"][name]),
                                  (name + "_error", solve["observable_errors"][name])):
                expected = str(value) if value is not None else ""
                assert r[column] == expected, (point, r["regime"], column, r[column], expected)
        if r["regime"] in ("readout", "joint"):
            assert float(r["transfer_benefit"]) == scratch - float(r["test_loss"]), r
            assert r["transfer_benefit"] == solve["transfer_benefit"], r
        else:
            assert r["transfer_benefit"] == "", r
        compared += 1
print("compared", compared, "rows with akt solve")
EOF
check "sweep rows equal akt solve's at the same points" "$python" "$work/against_solve.py" "$akt" "$spec" "$work/a.csv"

# ---- JSON lines carry the same rows ------------------------------------------------------
"$akt" sweep "$spec" --set data.alignment=0,0.5,1 --set target.elastic=0,1 --out "$work/a.jsonl" 2>/dev/null
check "sweep --out .jsonl exits 0" test $? -eq 0
cat >"$work/jsonl.py" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
lines = [json.loads(l, parse_float=str, parse_int=str) for l in open(sys.argv[2])]
assert len(lines) == len(rows) == 48, (len(lines), len(rows))
for r, j in zip(rows, lines):
    assert list(j) == list(r), (list(j), list(r))
    for k in r:
        if k == "seconds":
            continue
        v = j[k]
        text = "" if v is None else ("true" if v is True else "false" if v is False else str(v))
        assert text == r[k], (k, text, r[k])
EOF
check "JSON lines equal the CSV rows" "$python" "$work/jsonl.py" "$work/a.csv" "$work/a.jsonl"

# ---- stdout without --out ----------------------------------------------------------------
"$akt" sweep "$spec" --set data.alignment=0,0.5,1 --set target.elastic=0,1 >"$work/stdout.csv" 2>/dev/null
# Sorted by point (then regime), the column named seconds dropped (observable columns follow it).
without_seconds() {
    local s
    s=$(head -n 1 "$1" | tr , '\n' | grep -nx seconds | cut -d: -f1)
    sort -t, -k1,1n -k5,5 "$1" |
        awk -F, -v OFS=, -v s="$s" '{ out = $1; for (i = 2; i <= NF; i++) if (i != s) out = out OFS $i; print out }'
}
check "rows on stdout equal the file (but seconds)" test \
    "$(without_seconds "$work/stdout.csv")" = "$(without_seconds "$work/a.csv")"

# ---- resume after a kill -----------------------------------------------------------------
slow=(--set data.dim=40 --set data.source.samples=200 --set source.time=20 --set target.time=20
      --set data.alignment=0,0.25,0.5,0.75 --set target.elastic=0,1)
"$akt" sweep "$spec" "${slow[@]}" --out "$work/reference.csv" 2>/dev/null
check "reference sweep exits 0" test $? -eq 0
# Every line has the header's column count (no quoted fields in these tables).
parses() { awk -F, 'NR == 1 {n = NF} NF != n {bad = 1} END {exit bad || NR < 1}' "$1"; }
for signal in INT KILL; do
    out="$work/killed_$signal.csv"
    "$akt" sweep "$spec" "${slow[@]}" --out "$out" 2>/dev/null &
    pid=$!
    samples=0 broken=0
    for _ in $(seq 1 400); do
        if [ -e "$out" ]; then
            samples=$((samples + 1))
            parses "$out" || broken=$((broken + 1))
            [ "$(cut -d, -f1 "$out" | sort -u | wc -l)" -ge 3 ] && break   # header + 2 points
        fi
        sleep 0.02
    done
    kill -"$signal" "$pid"
    wait "$pid" 2>/dev/null
    points=$(tail -n +2 "$out" | cut -d, -f1 | sort -u | wc -l)
    echo "SIG$signal: killed after $points of 16 points, file sampled $samples times"
    check "SIG$signal: the killed run had not finished" test "$points" -lt 16
    check "SIG$signal: the file parsed at every sample" test "$broken" -eq 0
    check "SIG$signal: the file parses after the kill" parses "$out"
    [ "$signal" = INT ] && check "SIGINT: no temporary file stays" test ! -e "$out.partial"
    "$akt" sweep "$spec" "${slow[@]}" --out "$out" 2>"$work/resume_err"
    check "SIG$signal: the rerun exits 0" test $? -eq 0
    check "SIG$signal: no temporary file after the rerun" test ! -e "$out.partial"
    check "SIG$signal: resumed table equals the uninterrupted one (but seconds)" \
        test "$(without_seconds "$out")" = "$(without_seconds "$work/reference.csv")"
done
# A finished table is left alone by a rerun (every point skipped): byte for byte.
cp "$work/reference.csv" "$work/before.csv"
"$akt" sweep "$spec" "${slow[@]}" --out "$work/reference.csv" 2>/dev/null
check "a rerun of a finished sweep changes nothing" cmp -s "$work/reference.csv" "$work/before.csv"
# Another grid on the same file is refused rather than mixed.
"$akt" sweep "$spec" --set data.alignment=0,1 --out "$work/reference.csv" 2>"$work/err"
check "another grid on the same file exits 2" test $? -eq 2
check "the refusal says why" grep -q "refusing to mix" "$work/err"
check "the refused file is unchanged" cmp -s "$work/reference.csv" "$work/before.csv"
# A table of the same grid written before the stable and iterations columns existed is refused
# too (today's rule for any other header), not silently mixed or rewritten.
sed -e '1s/,stable,/,/' -e '1s/,iterations,/,/' "$work/before.csv" >"$work/old_columns.csv"
cp "$work/old_columns.csv" "$work/old_before.csv"
"$akt" sweep "$spec" "${slow[@]}" --out "$work/old_columns.csv" 2>"$work/err"
check "a table with the old columns exits 2" test $? -eq 2
check "the old table's refusal names the first differing column" \
    grep -q "header column 11 differs .*'method' where this sweep has 'stable'" "$work/err"
check "the old table is unchanged" cmp -s "$work/old_columns.csv" "$work/old_before.csv"
# A table of the same grid written before the observable columns (the first 18 columns: point,
# the 3 swept keys, regime .. seconds) is refused with one line that says so, CSV and JSON lines:
# its finished rows lack the observables, so completing it would not give the uninterrupted table.
cut -d, -f1-18 "$work/before.csv" >"$work/pre_observables.csv"
check "the cut table ends at seconds" \
    test "$(head -n 1 "$work/pre_observables.csv" | awk -F, '{print $NF}')" = seconds
cp "$work/pre_observables.csv" "$work/pre_before.csv"
"$akt" sweep "$spec" "${slow[@]}" --out "$work/pre_observables.csv" 2>"$work/err"
check "a table from before the observables exits 2" test $? -eq 2
check "its refusal is one line" test "$(wc -l <"$work/err")" -eq 1
check "its refusal says why" grep -q \
    "pre_observables.csv:1: a table of this sweep written before the observable columns" "$work/err"
check "the pre-observables table is unchanged" cmp -s "$work/pre_observables.csv" "$work/pre_before.csv"
"$akt" sweep "$spec" "${slow[@]}" --out "$work/reference.jsonl" 2>/dev/null
"$python" - "$work/reference.jsonl" "$work/pre_observables.jsonl" <<'EOF'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        row = json.loads(line)
        keys = list(row)[:list(row).index("seconds") + 1]
        out.write(json.dumps({k: row[k] for k in keys}) + "\n")
EOF
"$akt" sweep "$spec" "${slow[@]}" --out "$work/pre_observables.jsonl" 2>"$work/err"
check "a JSON lines table from before the observables exits 2" test $? -eq 2
check "its refusal names the first row and says why" grep -q \
    "pre_observables.jsonl:1: a table of this sweep written before the observable columns" "$work/err"

# ---- bad input: exit 2, named, no file ---------------------------------------------------
bad() { # bad DESCRIPTION PATTERN ARGS...: exit 2, stderr matches PATTERN, no output file
    rm -f "$work/bad.csv"
    "$akt" sweep "$spec" "${@:3}" --out "$work/bad.csv" >/dev/null 2>"$work/err"
    check "$1: exit 2" test $? -eq 2
    check "$1: message names it" grep -q -- "$2" "$work/err"
    check "$1: no output file" test ! -e "$work/bad.csv"
}
bad "unknown sweep key" "data.alignmnt" --set data.alignmnt=0,1
bad "bad linspace" "linspace" --set "data.alignment=linspace(0, 1)"
bad "linspace with n = 0" "linspace" --set "data.alignment=linspace(0, 1, 0)"
bad "value out of range" "data.alignment" --set data.alignment=0,2
bad "--set without =" "--set" --set data.alignment
bad "--set with an empty value" "empty value" --set data.alignment=0,,1
bad "a point refused by a cross-key rule" "sweep point 1" --set solver.method=lazy \
    --set target.weight_decay=0 --set source.weight_decay=0 --set source.weight_decay=0,0.1

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
