#!/usr/bin/env bash
# A spec that needs more memory than the machine has is refused up front (exit 2, the estimate
# in GiB, nothing on stdout), quickly, not by the kernel's OOM killer; a normal spec passes.
set -u
akt="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
cat >"$work/huge.yaml" <<'Y'
data: {task: linear, dim: 100000}
network: {activation: linear}
solver: {method: exact}
Y
start=$(date +%s.%N)
timeout 10 "$akt" solve "$work/huge.yaml" >"$work/out" 2>"$work/err"
status=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
first=$(head -n 1 "$work/err")
if [ "$status" -ne 2 ] || ! grep -Eq "huge\.yaml: .*[0-9.e+]+ GiB of memory" <<<"$first" || [ -s "$work/out" ]; then
    failures=$((failures + 1))
    echo "FAIL: akt solve huge.yaml -> status $status (want 2), stderr: $first, stdout bytes: $(wc -c <"$work/out")"
fi
# the 3.3 GiB of data (D = 100000, 4450 points) must not be built first: well under 2 s
if [ "$(echo "$elapsed > 2" | bc)" -eq 1 ]; then
    failures=$((failures + 1))
    echo "FAIL: the refusal took $elapsed s"
fi
timeout 10 "$akt" train "$work/huge.yaml" --width 500000000 --set data.dim=100 --set source.time=1 --set target.time=1 \
    >"$work/out" 2>"$work/err"
status=$?
first=$(head -n 1 "$work/err")
if [ "$status" -ne 2 ] || ! grep -Eq "GiB" <<<"$first" || [ -s "$work/out" ]; then
    failures=$((failures + 1))
    echo "FAIL: akt train --width 5000000000 -> status $status (want 2), stderr: $first"
fi
echo "resources: $failures failed"
[ "$failures" -eq 0 ]
