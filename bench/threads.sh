#!/usr/bin/env bash
# bench/threads.sh: the library's BLAS thread choice (core/threads.h) against a pinned count,
# side by side (issue 17, part 4). Wall-clock seconds of each command, with no thread variable
# set ("library") and with OPENBLAS_NUM_THREADS=1 and =2 (2 = what OpenBLAS did by itself on
# this 2-core machine before the library chose), and whether the outputs are identical.
#
# usage: bench/threads.sh [BUILD_DIR] [--load] [--step]
#   --load  run one CPU-bound job (yes > /dev/null) beside every measurement
#   --step  also time the population step at S = 8192, P = 1000 (bench_threads; minutes)
set -u
build=build
load=0
step=0
for arg in "$@"; do
  case $arg in
    --load) load=1 ;;
    --step) step=1 ;;
    *) build=$arg ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
akt=$build/src/akt
unset OPENBLAS_NUM_THREADS GOTO_NUM_THREADS OMP_NUM_THREADS
yes_pid=
if [ "$load" = 1 ]; then
  yes >/dev/null &
  yes_pid=$!
  trap 'kill $yes_pid' EXIT
fi
echo "# $(date -u '+%F %T') UTC, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
     "extra CPU-bound job: $([ "$load" = 1 ] && echo yes || echo no)"

# run LABEL THREADS CMD...: prints the wall seconds and a checksum of stdout
run() {
  local label=$1 threads=$2
  shift 2
  local start end sum
  start=$(date +%s.%N)
  if [ "$threads" = library ]; then
    sum=$("$@" 2>/dev/null | sed 's/ *[0-9.]*$//' | md5sum | cut -c1-8)
  else
    sum=$(OPENBLAS_NUM_THREADS=$threads "$@" 2>/dev/null | sed 's/ *[0-9.]*$//' | md5sum | cut -c1-8)
  fi
  end=$(date +%s.%N)
  printf '%-34s %-8s %8.2f s   output %s\n' "$label" "$threads" "$(echo "$end - $start" | bc)" "$sum"
}

for i in 1 2 3; do
  for threads in library 1 2; do
    run "akt (quickstart), run $i" "$threads" "$akt"
  done
done
for threads in library 1; do
  run "akt compare relu_small 128 x 2" "$threads" "$akt" compare "$root/problems/relu_small.yaml" --widths 128 --seeds 2
done
if [ "$step" = 1 ]; then
  for threads in library 1; do
    printf '%-34s %-8s ' "population step S 8192 P 1000" "$threads"
    if [ "$threads" = library ]; then
      "$build/bench/bench_threads" --time 0.002
    else
      OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_threads" --time 0.002
    fi
  done
fi
