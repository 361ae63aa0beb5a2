#!/usr/bin/env bash
# akt sweep under mpirun: the dynamic work queue gives the serial run's rows (sorted by point,
# every column but seconds), with 2 ranks (one worker) and 3 ranks (two workers), and
# mpirun -n 1 runs serially; a rerun under mpirun resumes (skips finished points).
set -u
akt="$1"
spec="$2"
mpirun="$3"
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
without_seconds() { sort -t, -k1,1n -k5,5 "$1" | awk -F, -v OFS=, '{NF--; print}'; }

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
# Bad input under mpirun: exit 2 from every rank, no file.
run_mpi 2 "$akt" sweep "$spec" --set data.alignmnt=0,1 --out "$work/bad.csv" 2>"$work/err"
check "mpirun -n 2 with an unknown key exits 2" test $? -eq 2
check "no file for bad input under mpirun" test ! -e "$work/bad.csv"
echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
