#!/bin/sh
# bench/run.sh: reruns every benchmark of bench/RESULTS.md and rewrites bench/results/.
#
# Usage (from the repository root, after `meson setup build --buildtype=release && ninja -C build`):
#     bench/run.sh [grid] [solve] [finite] [integrator] [convex] [leads] [fashion]
#     (no argument: the first three)
# Environment: BUILD (default build), THREADS (OpenBLAS threads while measuring, default 1),
# GRID_P, GRID_S (the grid's cells, default 100,300,1000,3000 and 1024,8192,32768),
# GRID_TOLERANCES (akt's step_tolerance ladder, default 1e-3,1e-4,3e-5), GRID_LADDER_NEURONS
# (the ladder's S for each P in turn, default 1024,1024,256: the dense ladder at P = 1000 and
# S = 1024 would take 45 CPU minutes), GRID_ACCURACY_MAX_P (largest P with a ladder, 1000),
# SOLVE_CASES (default: all four of bench_solve), SOLVE_TIMEOUT (wall seconds allowed to each
# solve; default: bench_solve's per-case limits), SOLVE_APPEND=1 (keep solve.md/csv and append
# this run's cases to them, e.g. to rerun the cheap quickstart without the 15-minute convex case),
# FINITE_WIDTHS (default 256,1024,4096), FINITE_MODEL_FROM (widths from which bench_finite only
# times the step and models the rest, default 4096), FINITE_SEEDS (seeds per width, default 2),
# integrator (issue 13's integrator leads, RESULTS.md "Integrator: weight space and Lanczos"):
# seconds per step of akt and dense at INTEGRATOR_P x INTEGRATOR_S (default 300,1000 and
# 1024,8192), alternating with INTEGRATOR_BEFORE (the bench_grid of another build, e.g. of the
# commit before, copied aside: the same cells measured in the same run, for before/after ratios)
# INTEGRATOR_ROUNDS times (default 2); akt's equal-accuracy ladder (INTEGRATOR_TOLERANCES, default
# 1e-3,1e-4,5e-5,3e-5) at P = 300 (S = 1024) and P = 1000 (S = 256) against the Richardson
# references of the dense ladders in grid_accuracy.csv (INTEGRATOR_REFERENCES; the dense runs do
# not depend on akt's integrator); and the step of relu_d200's source phase at S = 8192.
# CONVEX_MAX_ITERATIONS (outer iterations of each convex phase, default 5000), CONVEX_TIMEOUT
# (wall seconds allowed to the convex stage, default 3600; the D = 200 phases need far more today,
# see RESULTS.md "Convex at D = 200, P = 1000"), CONVEX_SETS (extra --set overrides, e.g.
# "data.dim=10 data.source.samples=30" for a small run).
# leads (issue 13's remaining leads, RESULTS.md "Issue 13: remaining leads"): bench_leads
# --richardson (the mesh of an adaptive run at each LEADS_TOLERANCES value, default
# 1e-2,3e-3,1e-3, replayed cut into 1, 2, 4; P = 100, 300 at S = 1024 and P = 1000 at S = 256,
# against the dense ladders' references LEADS_REFERENCES), bench_leads --sampling (Gaussian against
# orthogonal blocks of w0, LEADS_REPLICAS replicas each, default 8, at step_tolerance 1e-3, P = 300
# at S = 1024 and P = 1000 at S = 256), the akt/dense step ratio of bench_grid at P = 300, 1000 and
# S = 1024, 8192 (LEADS_S), and a perf profile of the step at P = 300 and 1000, S = 1024 (when perf
# is installed; LEADS_PERF=0 skips it).
# fashion: bench/specs/fashion_rich.yaml for FASHION_TIME (default 0.25) time units per phase, one
# replica at S = 2048 (akt solve --json: steps and seconds per regime), then akt train at width
# 2048, one seed, on the same times, both timed by /usr/bin/time (wall and CPU).
# Each stage writes bench/results/<stage>.md (the tables, as printed) and <stage>*.csv; the
# header of each .md names the machine, the load, the date and the commit measured.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${THREADS:-1}
GRID_P=${GRID_P:-100,300,1000,3000}
GRID_S=${GRID_S:-1024,8192,32768}
GRID_TOLERANCES=${GRID_TOLERANCES:-1e-3,1e-4,3e-5}
GRID_LADDER_NEURONS=${GRID_LADDER_NEURONS:-1024,1024,256}
GRID_ACCURACY_MAX_P=${GRID_ACCURACY_MAX_P:-1000}
SOLVE_TIMEOUT=${SOLVE_TIMEOUT:-}
SOLVE_APPEND=${SOLVE_APPEND:-0}
FINITE_WIDTHS=${FINITE_WIDTHS:-256,1024,4096}
FINITE_MODEL_FROM=${FINITE_MODEL_FROM:-4096}
FINITE_SEEDS=${FINITE_SEEDS:-2}
CONVEX_MAX_ITERATIONS=${CONVEX_MAX_ITERATIONS:-5000}
CONVEX_TIMEOUT=${CONVEX_TIMEOUT:-3600}
CONVEX_SETS=${CONVEX_SETS:-}
SOLVE_CASES=${SOLVE_CASES:-quickstart population convex population_small}
INTEGRATOR_P=${INTEGRATOR_P:-300,1000}
INTEGRATOR_S=${INTEGRATOR_S:-1024,8192}
INTEGRATOR_BEFORE=${INTEGRATOR_BEFORE:-}
INTEGRATOR_ROUNDS=${INTEGRATOR_ROUNDS:-2}
INTEGRATOR_TOLERANCES=${INTEGRATOR_TOLERANCES:-1e-3,1e-4,5e-5,3e-5}
INTEGRATOR_REFERENCES=${INTEGRATOR_REFERENCES:-0.8661006008,0.2552278482}
LEADS_TOLERANCES=${LEADS_TOLERANCES:-1e-2,3e-3,1e-3}
LEADS_REFERENCES=${LEADS_REFERENCES:-1.2469625630,0.8661006008,0.2552278482}
LEADS_REPLICAS=${LEADS_REPLICAS:-8}
LEADS_S=${LEADS_S:-1024,8192}
LEADS_PERF=${LEADS_PERF:-1}
FASHION_TIME=${FASHION_TIME:-0.25}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- src include 2>/dev/null; then COMMIT="$COMMIT+local-changes"; fi
# the population integrator measured: the last commit that changed src/numerics/population.c
INTEGRATOR=$(git log -1 --format=%h -- src/numerics/population.c 2>/dev/null || echo unknown)
COMMIT="$COMMIT (integrator of commit $INTEGRATOR)"
OUT=bench/results
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS="$THREADS"
stages=${*:-grid solve finite}

for stage in $stages; do
    case $stage in
    grid)
        # P x S grid; equal-accuracy ladders for P <= GRID_ACCURACY_MAX_P; larger P extrapolated
        rm -f "$OUT/grid.csv" "$OUT/grid_accuracy.csv"
        "$BUILD/bench/bench_grid" --P "$GRID_P" --S "$GRID_S" --accuracy \
            --accuracy-max-P "$GRID_ACCURACY_MAX_P" --tolerances "$GRID_TOLERANCES" \
            --ladder-neurons "$GRID_LADDER_NEURONS" \
            --csv "$OUT/grid.csv" --accuracy-csv "$OUT/grid_accuracy.csv" --commit "$COMMIT" \
            | tee "$OUT/grid.md"
        ;;
    solve)
        # the targets: quickstart, the D = 200 relu problem by population and by convex
        tee_append=
        if [ "$SOLVE_APPEND" = 1 ]; then tee_append=-a; else rm -f "$OUT/solve.csv"; fi
        case_args=
        for c in $SOLVE_CASES; do case_args="$case_args --case $c"; done
        # shellcheck disable=SC2086
        "$BUILD/bench/bench_solve" --spec bench/specs/relu_d200.yaml $case_args \
            ${SOLVE_TIMEOUT:+--timeout "$SOLVE_TIMEOUT"} --csv "$OUT/solve.csv" --commit "$COMMIT" \
            | tee $tee_append "$OUT/solve.md"
        ;;
    finite)
        rm -f "$OUT/finite.csv"
        "$BUILD/bench/bench_finite" --spec bench/specs/finite_relu.yaml --csv "$OUT/finite.csv" \
            --widths "$FINITE_WIDTHS" --model-from "$FINITE_MODEL_FROM" --seeds "$FINITE_SEEDS" \
            --commit "$COMMIT" | tee "$OUT/finite.md"
        ;;
    integrator)
        rm -f "$OUT/integrator.csv" "$OUT/integrator_accuracy.csv"
        : > "$OUT/integrator.md"
        round=1
        while [ "$round" -le "$INTEGRATOR_ROUNDS" ]; do
            for P in $(echo "$INTEGRATOR_P" | tr , ' '); do
                for S in $(echo "$INTEGRATOR_S" | tr , ' '); do
                    for which in $INTEGRATOR_BEFORE "$BUILD/bench/bench_grid"; do
                        echo "round $round, P = $P, S = $S: $which" | tee -a "$OUT/integrator.md"
                        "$which" --P "$P" --S "$S" --full-max-P 0 --timed-steps 5 \
                            | grep "^| $P |" | tee -a "$OUT/integrator.md"
                    done
                done
            done
            round=$((round + 1))
        done
        "$BUILD/bench/bench_grid" --akt-ladder --P 300,1000 --ladder-neurons 1024,256 \
            --tolerances "$INTEGRATOR_TOLERANCES" --references "$INTEGRATOR_REFERENCES" \
            --accuracy-csv "$OUT/integrator_accuracy.csv" --commit "$COMMIT" \
            | tee -a "$OUT/integrator.md"
        "$BUILD/bench/bench_grid" --spec bench/specs/relu_d200.yaml --P 1000 --S 8192 \
            --full-max-P 0 --timed-steps 5 --csv "$OUT/integrator.csv" --commit "$COMMIT" \
            | tee -a "$OUT/integrator.md"
        ;;
    convex)
        # method convex phase by phase on the D = 200 problem (source, scratch to gap 1e-6), the
        # 10^5 random-direction check of each certificate, and akt_solve on source, scratch,
        # readout (issue 13, target "Convex")
        set_args=
        for s in $CONVEX_SETS; do set_args="$set_args --set $s"; done
        # shellcheck disable=SC2086
        timeout "$CONVEX_TIMEOUT" "$BUILD/bench/bench_convex" --spec bench/specs/relu_d200.yaml \
            $set_args --tolerance 1e-6 --max-iterations "$CONVEX_MAX_ITERATIONS" \
            --directions 100000 --solve --commit "$COMMIT" | tee "$OUT/convex.md" || true
        ;;
    leads)
        rm -f "$OUT/leads_richardson.csv" "$OUT/leads_sampling.sampling.csv"
        "$BUILD/bench/bench_leads" --richardson --P 100,300,1000 --S 1024,1024,256 \
            --references "$LEADS_REFERENCES" --tolerances "$LEADS_TOLERANCES" \
            --csv "$OUT/leads_richardson.csv" --commit "$COMMIT" | tee "$OUT/leads.md"
        "$BUILD/bench/bench_leads" --sampling --P 300,1000 --S 1024,256 \
            --replicas "$LEADS_REPLICAS" --tolerance 1e-3 --csv "$OUT/leads_sampling" \
            --commit "$COMMIT" | tee -a "$OUT/leads.md"
        for P in 300 1000; do
            for S in $(echo "$LEADS_S" | tr , ' '); do
                "$BUILD/bench/bench_grid" --P "$P" --S "$S" --full-max-P 0 --timed-steps 5 \
                    | grep "^| $P |" | tee -a "$OUT/leads.md"
            done
        done
        if [ "$LEADS_PERF" = 1 ] && command -v perf > /dev/null; then
            for P in 300 1000; do
                perf record -o "$OUT/leads_perf_$P.data" -g -- "$BUILD/bench/bench_leads" \
                    --sampling --P "$P" --S 1024 --replicas 2 --tolerance 1e-3 --time 2 \
                    > /dev/null 2>&1
                perf report -i "$OUT/leads_perf_$P.data" --no-children --percent-limit 1 \
                    --stdio 2> /dev/null | grep -v "^$" | head -60 > "$OUT/leads_perf_$P.txt"
                rm -f "$OUT/leads_perf_$P.data"
            done
        fi
        ;;
    fashion)
        { echo "# fashion_rich, T = $FASHION_TIME per phase, commit $COMMIT, $(date -u), load $(cut -d' ' -f1-3 /proc/loadavg)"
          /usr/bin/time -f "akt solve: wall %e s, user %U s, sys %S s, peak %M KiB" \
              "$BUILD/src/akt" solve bench/specs/fashion_rich.yaml --json --quiet \
              --set source.time="$FASHION_TIME" --set target.time="$FASHION_TIME" \
              --set solver.replicas=1 2>&1
          /usr/bin/time -f "akt train: wall %e s, user %U s, sys %S s, peak %M KiB" \
              "$BUILD/src/akt" train bench/specs/fashion_rich.yaml --width 2048 --seeds 1 --json \
              --set source.time="$FASHION_TIME" --set target.time="$FASHION_TIME" 2>&1
        } | tee "$OUT/fashion.md"
        ;;
    *)
        echo "bench/run.sh: unknown stage $stage (grid, solve, finite, integrator, convex, leads, fashion)" >&2
        exit 2
        ;;
    esac
done
