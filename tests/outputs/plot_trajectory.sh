#!/usr/bin/env bash
# notebooks_export/plot_trajectory.sh end to end: on an akt trajectory (population, 2 replicas)
# it writes a PNG, and the replica mean it drew at the phase end equals the test loss akt solve
# reported (every replica ends at the phase time); on a made-up trajectory whose values are
# linear in time on two different time grids, the drawn means equal the closed form (linear
# interpolation is exact there), a replica without a value is left out of the mean, and a
# column without any value is not drawn; bad arguments exit 2. Skipped (77) without gnuplot.
set -u
akt="$1"
python="$2"
script="$(cd "$(dirname "$0")/../.." && pwd)/notebooks_export/plot_trajectory.sh"
command -v gnuplot >/dev/null 2>&1 || { echo "gnuplot not installed: skipping"; exit 77; }
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
is_png() { [ -s "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = "211PNG" ]; }

cat >"$work/spec.yaml" <<'Y'
seed: 5
data: {task: polynomial, dim: 6, alignment: 0.5, noise: 0.1, hermite: {1: 1, 2: 0.5}, source: {samples: 16}, target: {samples: 8}, test: {samples: 25}}
network: {activation: relu}
source: {gamma: 1.0, weight_decay: 0.05, time: 2}
target: {regimes: [scratch, readout, joint], elastic: 0.5, readout_decay: 0.05, readout_init: source, gamma: 2.0, time: 2}
solver: {method: population, neurons: 64, replicas: 2, step_tolerance: 1.0e-3, estimate_errors: false}
output: {trajectory: t.csv}
Y
"$akt" solve "$work/spec.yaml" --json --quiet >"$work/result.json" 2>/dev/null
check "solve exits 0" test $? -eq 0
out=$("$script" "$work/t.csv" --data "$work/dat")
check "plot exits 0" test $? -eq 0
check "the PNG's path on stdout" test "$out" = "$work/t.png"
check "a PNG beside the CSV" is_png "$work/t.png"
check "the drawn means end at the reported test losses" "$python" - "$work/result.json" "$work/dat" <<'P'
import json, math, sys
results = {r["regime"]: r for r in json.load(open(sys.argv[1]))["results"]}
for regime in ("source", "scratch", "joint"):
    last = open(f"{sys.argv[2]}/trajectory_{regime}.dat").read().split("\n")[-2].split()
    t, loss = float(last[0]), float(last[1])
    print(f"{regime}: t = {t}, mean test loss {loss!r}, reported {results[regime]['test_loss']!r}")
    assert t == 2.0 and math.isclose(loss, results[regime]["test_loss"], rel_tol=1e-15)
P

# Made up: replica 0 at t = 0, 0.5, 1, 2 and replica 1 at t = 0, 0.3, 1.7, 2; test loss 1 - 0.1 t
# and 0.5 + 0.2 t, retention 2 t and 1 - t, feature_learning t (replica 0 only), the rest empty.
"$python" - "$work/made_up.csv" <<'P'
import sys
names = ["ntk_alignment_train", "ntk_alignment_test", "feature_alignment_train",
         "feature_alignment_test", "retention", "source_test_loss", "hidden_distance",
         "readout_distance", "feature_learning"]
with open(sys.argv[1], "w") as f:
    f.write(",".join(["regime", "replica", "time", "train_loss", "test_loss"] + names) + "\n")
    for replica, times in ((0, [0, 0.5, 1, 2]), (1, [0, 0.3, 1.7, 2])):
        for t in times:
            loss = 1 - 0.1 * t if replica == 0 else 0.5 + 0.2 * t
            obs = {"retention": 2 * t if replica == 0 else 1 - t,
                   "feature_learning": t if replica == 0 else None}
            f.write(",".join(["joint", str(replica), repr(t), "0", repr(loss)] +
                             ["" if obs.get(n) is None else repr(obs[n]) for n in names]) + "\n")
P
"$script" "$work/made_up.csv" "$work/made_up.png" --observables retention,feature_learning,ntk_alignment_train \
    --data "$work/made_up" >/dev/null
check "made up: plot exits 0" test $? -eq 0
check "made up: a PNG" is_png "$work/made_up.png"
check "made up: means at replica 0's times equal the closed form" "$python" - "$work/made_up/trajectory_joint.dat" <<'P'
import math, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
assert [r[0] for r in rows] == [0.5, 1, 2], rows          # time 0 is not drawn (log axis)
for t, loss, retention, learning, alignment in rows:
    assert math.isclose(loss, (1.5 + 0.1 * t) / 2, rel_tol=1e-15), (t, loss)
    assert math.isclose(retention, (1 + t) / 2, rel_tol=1e-15), (t, retention)
    assert learning == t and math.isnan(alignment), (t, learning, alignment)
print("made up: replica means equal the closed form at", [r[0] for r in rows])
P

# Bad arguments: exit 2 with a message, no PNG.
"$script" "$work/t.csv" "$work/bad.png" --observables retention,no_such_column 2>"$work/err" >/dev/null
check "an unknown observable exits 2" test $? -eq 2
check "its message names the column" grep -q "no column 'no_such_column'" "$work/err"
echo "a,b" >"$work/not_a_trajectory.csv"
"$script" "$work/not_a_trajectory.csv" 2>"$work/err" >/dev/null
check "a CSV that is not a trajectory exits 2" test $? -eq 2
check "no PNG for bad arguments" test ! -e "$work/bad.png" -a ! -e "$work/not_a_trajectory.png"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
