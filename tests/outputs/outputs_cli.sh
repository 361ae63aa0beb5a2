#!/usr/bin/env bash
# akt solve's output files end to end (README "Output files"): written beside the spec (relative
# names), checked by check_outputs.py against the JSON and the data (trajectory ends equal the
# reported losses, the readout loss is recomputed from the kernel file, alignments recomputed);
# the convex and exact methods give the same kernels for a linear network at time converge;
# refusals exit 2 with one line and create nothing; a failed run (exit 1) leaves an existing file
# untouched and creates none.
set -u
akt="$1"
python="$2"
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1
failures=0
checks=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
    checks=$((checks + 1))
    if ! "${@:2}"; then
        failures=$((failures + 1))
        echo "FAIL: $1"
    fi
}
# refuse DESCRIPTION PATTERN ARGS...: exit 2, one line on stderr matching PATTERN, no stdout
refuse() {
    local description="$1" pattern="$2"
    shift 2
    "$akt" "$@" >"$work/out" 2>"$work/err"
    local status=$?
    check "$description: exit 2 (got $status)" test "$status" -eq 2
    check "$description: one line" test "$(wc -l <"$work/err")" -eq 1
    check "$description: message /$pattern/ ($(head -c 300 "$work/err"))" grep -Eq -- "$pattern" "$work/err"
    check "$description: nothing on stdout" test ! -s "$work/out"
}

mkdir -p "$work/exact/out" "$work/pop/out" "$work/other"
cat >"$work/exact/spec.yaml" <<'Y'
seed: 3
data: {task: linear, dim: 8, alignment: 0.6, noise: 0.1, source: {samples: 20}, target: {samples: 6}, test: {samples: 30}}
network: {activation: linear}
source: {gamma: 1.0, weight_decay: 0.05, time: 5}
target: {regimes: [scratch, readout, joint], elastic: 0.5, readout_decay: 0.05, time: 5}
solver: {method: exact}
output: {kernels: out/k.csv, trajectory: out/t.csv, kernel_splits: [target, test]}
Y
cat >"$work/pop/spec.yaml" <<'Y'
seed: 5
data: {task: polynomial, dim: 6, alignment: 0.5, noise: 0.1, hermite: {1: 1, 2: 0.5}, source: {samples: 16}, target: {samples: 8}, test: {samples: 25}}
network: {activation: relu}
source: {gamma: 1.0, weight_decay: 0.05, time: 2}
target: {regimes: [scratch, readout, joint], elastic: 0.5, readout_decay: 0.05, readout_init: source, gamma: 2.0, time: 2}
solver: {method: population, neurons: 64, replicas: 1, step_tolerance: 1.0e-3}
output: {kernels: out/k.csv, trajectory: out/t.csv, kernel_splits: [source, target, test]}
Y

# From another directory: relative output names are relative to the spec file.
for problem in exact pop; do
    (cd "$work/other" && "$akt" solve "$work/$problem/spec.yaml" --json >"$work/$problem/result.json" 2>"$work/$problem/err")
    check "$problem: solve exits 0" test $? -eq 0
    check "$problem: names both files on stderr" grep -q "wrote the loss trajectory to $work/$problem/out/t.csv" "$work/$problem/err"
    check "$problem: nothing written to the current directory" test -z "$(ls "$work/other")"
    check "$problem: no temporary file left" test -z "$(ls "$work/$problem/out" | grep -v '^[kt]\.csv$')"
    "$akt" data "$work/$problem/spec.yaml" --out "$work/$problem/data" 2>/dev/null
    check "$problem: files agree with the JSON and the data" "$python" "$here/check_outputs.py" \
        "$work/$problem/result.json" "$work/$problem/data" "$work/$problem/out/k.csv" "$work/$problem/out/t.csv"
done

# Two replicas: the trajectory ends average to the reported losses; kernels carry an mc_error.
"$akt" solve "$work/pop/spec.yaml" --json --set solver.replicas=2 --set output.kernels=out/k2.csv \
    --set output.trajectory=out/t2.csv >"$work/pop/result2.json" 2>/dev/null
check "two replicas: solve exits 0" test $? -eq 0
check "two replicas: files agree with the JSON" "$python" "$here/check_outputs.py" \
    "$work/pop/result2.json" "$work/pop/data" "$work/pop/out/k2.csv" "$work/pop/out/t2.csv"
check "two replicas: rows of replica 1" grep -q '^joint,1,' "$work/pop/out/t2.csv"

# A linear network at time converge: the convex method's kernels (one atom on the ray of beta)
# equal the exact fixed point's rank-one kernels, G = gamma |beta| both.
for method in exact convex; do
    "$akt" solve "$work/exact/spec.yaml" --json --set solver.method=$method --set source.time=converge \
        --set target.time=converge --set target.regimes=[scratch,readout] --set output.trajectory=null \
        --set output.kernels=out/$method.csv >"$work/exact/$method.json" 2>/dev/null
    check "converge, $method: solve exits 0" test $? -eq 0
done
check "converge: convex and exact kernels agree" "$python" - "$work/exact/out/exact.csv" "$work/exact/out/convex.csv" <<'P'
import csv, sys
def load(path):
    with open(path) as handle:
        return {tuple(r[k] for k in ("regime", "kernel", "row_split", "row", "column_split", "column")): float(r["value"])
                for r in csv.DictReader(handle)}
exact, convex = load(sys.argv[1]), load(sys.argv[2])
assert exact.keys() == convex.keys(), "different entries"
scale = max(abs(v) for k, v in exact.items() if not k[1].startswith("alignment"))
worst = max(abs(exact[k] - convex[k]) for k in exact) / scale
print("converge: convex vs exact kernels, largest difference %.2e of the largest entry" % worst)
assert worst < 1e-5, worst
P

# Refusals: before any work, one line, nothing written.
refuse "missing directory" "output.kernels: cannot write $work/nowhere/k.csv: directory $work/nowhere" \
    solve "$work/exact/spec.yaml" --set output.kernels="$work/nowhere/k.csv"
mkdir -p "$work/exact/out.csv"
refuse "a directory as the file" "output.trajectory: .*/out.csv is a directory" \
    solve "$work/exact/spec.yaml" --set output.trajectory=out.csv
refuse "not CSV" "output.kernels must be a file name ending in .csv" \
    solve "$work/exact/spec.yaml" --set output.kernels=k.bin
refuse "convex has no trajectory" "output.trajectory: regime source is served by method convex" \
    solve "$work/pop/spec.yaml" --set solver.method=auto --set source.time=converge --set target.regimes=[readout]
refuse "exact at converge has no trajectory" "output.trajectory: regime scratch is served by method exact at time converge" \
    solve "$work/exact/spec.yaml" --set target.time=converge --set target.regimes=[scratch]
refuse "lazy kernels do not adapt" "output.kernels: regime source is served by method lazy" \
    solve "$work/pop/spec.yaml" --set solver.method=lazy --set source.weight_decay=0 --set target.weight_decay=0
refuse "kernels too large for the machine" "output.kernels: the kernels on output.kernel_splits \(100026 points for the source regime\) need an estimated [0-9.]+ GiB" \
    solve "$work/exact/spec.yaml" --set data.test.samples=100000 --set output.kernel_splits=[test]
refuse "sweep" "output.kernels: only akt solve writes output files" \
    sweep "$work/exact/spec.yaml" --set target.elastic=0,1
refuse "compare" "output.kernels: only akt solve writes output files" \
    compare "$work/exact/spec.yaml" --widths 8 --seeds 1
refuse "train" "output.kernels: only akt solve writes output files" \
    train "$work/exact/spec.yaml" --width 8
check "refusals wrote nothing" test -z "$(ls "$work/nowhere" 2>/dev/null)$(ls "$work/exact/out" | grep -v -e '^[kt]\.csv$' -e '^exact\.csv$' -e '^convex\.csv$')"

# akt solve --observables: the table ends with one row per observable, one column per regime,
# each cell the JSON's value and error as printed (%.6g +- %.2g), "-" where the JSON has null.
"$akt" solve "$work/pop/spec.yaml" --observables --set solver.replicas=2 \
    --set output.kernels=null --set output.trajectory=null >"$work/table.txt" 2>/dev/null
check "--observables: solve exits 0" test $? -eq 0
"$akt" solve "$work/pop/spec.yaml" --json --set solver.replicas=2 --set output.kernels=null \
    --set output.trajectory=null >"$work/table.json" 2>/dev/null
check "--observables: the block equals the JSON" "$python" - "$work/table.txt" "$work/table.json" <<'P'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
results = json.load(open(sys.argv[2]))["results"]
start = next(i for i, l in enumerate(lines) if l.startswith("observable "))
assert lines[start].split()[1:] == [r["regime"] for r in results], lines[start]
names = list(results[0]["observables"])
for name, line in zip(names, lines[start + 1:start + 1 + len(names)]):
    assert line[:23].strip() == name, line
    cells = [line[24 + 24 * i:24 + 24 * i + 23].strip() for i in range(len(results))]
    for r, cell in zip(results, cells):
        value, error = r["observables"][name], r["observable_errors"][name]
        want = "-" if value is None else "%.6g" % value + ("" if error is None else " +- %.2g" % error)
        assert cell == want, (name, r["regime"], cell, want)
print("--observables: %d rows equal the JSON" % len(names))
P
refuse "--observables outside akt solve" "--observables applies to akt solve, not akt check" \
    check "$work/pop/spec.yaml" --observables

# A numerical failure in the last regime (after the source and scratch outputs were collected):
# exit 1, the old files untouched, no new file.
echo old >"$work/exact/out/k.csv"
rm -f "$work/exact/out/t.csv"
"$akt" solve "$work/exact/spec.yaml" --json --set target.regimes=[joint] --set target.time=converge \
    --set solver.max_time=0.5 --set solver.tolerance=1e-14 --set output.trajectory=out/t.csv \
    >"$work/fail.json" 2>"$work/fail.err"
status=$?
check "failed run: exit 1 (got $status: $(head -c 200 "$work/fail.err"))" test "$status" -eq 1
check "failed run: the old kernel file is untouched" test "$(cat "$work/exact/out/k.csv")" = old
check "failed run: no trajectory file" test ! -e "$work/exact/out/t.csv"
check "failed run: no temporary file" test -z "$(ls "$work/exact/out" | grep tmp)"

echo "$checks checks, $failures failed"
test "$failures" -eq 0
