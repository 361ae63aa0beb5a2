#!/usr/bin/env bash
# akt sweep under mpirun: the dynamic work queue gives the serial run's rows (sorted by point,
# every column but seconds), with 2 ranks (one worker) and 3 ranks (two workers), and
# mpirun -n 1 runs serially; a rerun under mpirun resumes (skips finished points); a population
# sweep whose points share their source phase (one source cache per rank) gives the serial rows.
set -u
akt="$1"
spec="$2"
mpirun="$3"
python="$4"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checks=0
check() {
    checks=$((checks + 1))
    if ! "${@:2}"; then
        failures=$((failures + 1))
        echo "FAIL: $1"
    fi
}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run_mpi() { "$mpirun" --allow-run-as-root --oversubscribe -n "$@"; }
grid=(--set data.alignment=0,0.5,1 --set target.elastic=0,1)
# Sorted by point (then regime), the column named seconds dropped (observable columns follow it).
without_seconds() {
    local s
    s=$(head -n 1 "$1" | tr , '\n' | grep -nx seconds | cut -d: -f1)
    sort -t, -k1,1n -k5,5 "$1" |
        awk -F, -v OFS=, -v s="$s" '{ out = $1; for (i = 2; i <= NF; i++) if (i != s) out = out OFS $i; print out }'
}

"$akt" sweep "$spec" "${grid[@]}" --out "$work/serial.csv" 2>/dev/null
check "serial sweep exits 0" test $? -eq 0
for ranks in 1 2 3; do
    run_mpi "$ranks" "$akt" sweep "$spec" "${grid[@]}" --out "$work/mpi$ranks.csv" 2>"$work/err$ranks"
    check "mpirun -n $ranks exits 0" test $? -eq 0 || cat "$work/err$ranks"
    check "mpirun -n $ranks: 48 rows" test "$(tail -n +2 "$work/mpi$ranks.csv" | wc -l)" -eq 48
    check "mpirun -n $ranks rows equal the serial run's (but seconds)" \
        test "$(without_seconds "$work/mpi$ranks.csv")" = "$(without_seconds "$work/serial.csv")"
    check "mpirun -n $ranks: no temporary file" test ! -e "$work/mpi$ranks.csv.partial"
done
# Resume under MPI: drop the last 3 points' rows (keeping a complete file), rerun with 2 ranks.
head -n $((1 + 4 * 9)) "$work/mpi2.csv" >"$work/partial.csv"
run_mpi 2 "$akt" sweep "$spec" "${grid[@]}" --out "$work/partial.csv" 2>/dev/null
check "mpirun -n 2 resume exits 0" test $? -eq 0
check "resumed rows equal the serial run's (but seconds)" \
    test "$(without_seconds "$work/partial.csv")" = "$(without_seconds "$work/serial.csv")"
check "resumed rows kept the finished points' seconds" \
    test "$(head -n 37 "$work/partial.csv")" = "$(head -n 37 "$work/mpi2.csv")"
# Population sweep (shared sources): each rank keeps its own source cache; rows still equal the
# serial run's, and the source phases run plus reused add up to the points, three per point: the
# solve's own and its two error runs' (solver.estimate_errors: 2 x step tolerance, S/2 neurons).
relu="$5"
relu_grid=(--set data.target.samples=6,10 --set target.elastic=0,0.5)
"$akt" sweep "$relu" "${relu_grid[@]}" --out "$work/relu_serial.csv" 2>"$work/relu_err"
check "serial population sweep exits 0" test $? -eq 0
check "serial population sweep: three source phases run (one per error run), 21 reused" \
    grep -q "source phases: 3 run, 21 reused" "$work/relu_err"
run_mpi 3 "$akt" sweep "$relu" "${relu_grid[@]}" --out "$work/relu_mpi.csv" 2>"$work/relu_err"
check "mpirun -n 3 population sweep exits 0" test $? -eq 0
check "mpirun -n 3 population rows equal the serial run's (but seconds)" \
    test "$(without_seconds "$work/relu_mpi.csv")" = "$(without_seconds "$work/relu_serial.csv")"
check "mpirun -n 3: at most three source runs per worker, runs + reuses = 3 x 8 points" \
    "$python" -c 'import re, sys
m = re.search(r"source phases: (\d+) run, (\d+) reused", open(sys.argv[1]).read())
sys.exit(not (m and 3 <= int(m[1]) <= 6 and int(m[1]) + int(m[2]) == 24))' "$work/relu_err"
# Bad input under mpirun: exit 2 from every rank, no file.
run_mpi 2 "$akt" sweep "$spec" --set data.alignmnt=0,1 --out "$work/bad.csv" 2>"$work/err"
check "mpirun -n 2 with an unknown key exits 2" test $? -eq 2
check "no file for bad input under mpirun" test ! -e "$work/bad.csv"
echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
