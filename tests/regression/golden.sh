#!/usr/bin/env bash
# Regression guard (issue "One method table"): the numbers of fixed solves and networks, bit for bit.
#
# Beside the independent checks (closed forms, identities, networks), not instead of them: it
# says only that a change which meant to move code moved no number. test_loss, train_loss and
# mc_error are printed by the JSON contract with 17 significant digits, so equal text is equal
# doubles. A change that alters numbers on purpose (a new integrator) regenerates
# golden_values.txt in its own commit, with `golden.sh AKT ROOT --write`, and says why.
#
# usage: golden.sh AKT SOURCE_ROOT [--write]
set -euo pipefail
akt=$1
root=$2
write=${3:-}
here="$root/tests/regression"
export OPENBLAS_NUM_THREADS=1

# name|arguments: each a plain solve of a problem in problems/, shrunk with --set to seconds.
cases=(
  "quickstart_exact|--json"
  "quickstart_exact_converge|--json --set source.time=converge --set target.time=converge --set target.regimes=[scratch,readout]"
  "relu_small_population|solve $root/problems/relu_small.yaml --json --set solver.neurons=256 --set solver.replicas=2"
  "relu_small_convex|solve $root/problems/relu_small.yaml --json --set solver.method=convex --set source.time=converge --set target.time=converge --set target.regimes=[scratch,readout] --set data.dim=10 --set data.source.samples=30 --set data.target.samples=15 --set data.test.samples=300"
  "polynomial_lazy|solve $root/problems/polynomial_lazy.yaml --json"
  "polynomial_lazy_pulled|solve $root/problems/polynomial_lazy.yaml --json --set target.elastic=0.5 --set target.readout_init=source"
  "relu_small_networks|train $root/problems/relu_small.yaml --width 32 --seeds 2 --json --set data.test.samples=200"
)

# One line per result: case regime test_loss train_loss mc_error (as printed); for akt train:
# case regime test_loss_mean train_loss_mean test_loss_sd.
extract() {
  sed 's/},/}\n/g' | sed -n \
    -e 's/.*"regime": "\([a-z]*\)", "test_loss": \([^,]*\), "train_loss": \([^,]*\), "mc_error": \([^,]*\),.*/\1 \2 \3 \4/p' \
    -e 's/.*"regime": "\([a-z]*\)", "width": [0-9]*, "test_loss_mean": \([^,]*\), "test_loss_sd": \([^,]*\),.*"train_loss_mean": \([^,]*\),.*/\1 \2 \4 \3/p'
}

actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
for entry in "${cases[@]}"; do
  name=${entry%%|*}
  read -r -a args <<< "${entry#*|}"
  if ! out=$("$akt" "${args[@]}"); then
    echo "FAIL: $name: akt exited with an error"
    exit 1
  fi
  extract <<< "$out" | sed "s/^/$name /" >> "$actual"
done

if [ "$write" = "--write" ]; then
  cp "$actual" "$here/golden_values.txt"
  echo "wrote $here/golden_values.txt ($(wc -l < "$actual") results)"
  exit 0
fi
if ! diff -u "$here/golden_values.txt" "$actual"; then
  echo "FAIL: numbers changed (- before, + now)"
  exit 1
fi
# Issue 17: with no thread variable set akt chooses the BLAS threads itself (src/core/threads.h),
# one at these sizes, so two of the cases must give the same bits without OPENBLAS_NUM_THREADS.
for name in quickstart_exact relu_small_population; do
  for entry in "${cases[@]}"; do
    [ "${entry%%|*}" = "$name" ] || continue
    read -r -a args <<< "${entry#*|}"
    if ! out=$(env -u OPENBLAS_NUM_THREADS -u GOTO_NUM_THREADS -u OMP_NUM_THREADS "$akt" "${args[@]}"); then
      echo "FAIL: $name without OPENBLAS_NUM_THREADS: akt exited with an error"
      exit 1
    fi
    if ! diff -u <(grep "^$name " "$here/golden_values.txt") <(extract <<< "$out" | sed "s/^/$name /"); then
      echo "FAIL: $name without OPENBLAS_NUM_THREADS: numbers differ from one BLAS thread's"
      exit 1
    fi
  done
done
echo "OK: $(wc -l < "$actual") results bit-identical (and 2 cases without OPENBLAS_NUM_THREADS)"
