#!/usr/bin/env bash
# Progress and Ctrl-C of akt solve (issue "Inputs that silently change the problem..." part 3,
# DESIGN.md Decisions: Interrupt): a progress line on a terminal (a pseudo-terminal here),
# nothing when stderr is not a terminal or with --quiet, and Ctrl-C ends a solve with exit 130,
# printing what was reached with the interrupted regime not converged.
# usage: cli_progress.sh AKT SOURCE_ROOT PYTHON3
set -uo pipefail
akt=$1
root=$2
python=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checks=0
check() {
    local description=$1
    shift
    checks=$((checks + 1))
    if ! "$@"; then
        echo "FAIL: $description"
        failures=$((failures + 1))
    fi
}
# A relu solve of a few seconds: long enough for several progress lines.
spec="$root/problems/relu_small.yaml"
long=(--set solver.neurons=128 --set solver.replicas=2 --set data.test.samples=100)

# On a pseudo-terminal: the line names the regime, the replica, t of T and the steps, rewritten
# in place (carriage return and erase-line).
# on_tty ARGS...: akt solve SPEC LONG ARGS on a pseudo-terminal; prints what the terminal got
# and the exit status.
on_tty() {
    "$python" - "$akt" "$spec" "${long[@]}" "$@" <<'PY'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "solve"] + sys.argv[2:])
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.stdout.write("\nEXIT %d\n" % os.waitstatus_to_exitcode(status))
PY
}

on_tty > "$work/tty.txt"
check "terminal: exit 0" grep -q "^EXIT 0" "$work/tty.txt"
check "terminal: a progress line with replica, t and steps" \
    grep -Eq "(source|scratch|joint) +replica [12]/2  t [0-9.e+-]+ / 10  steps [0-9]+" "$work/tty.txt"
check "terminal: rewritten in place" grep -q $'\r\033\\[K' "$work/tty.txt"
check "terminal: the table follows" grep -q "^joint " "$work/tty.txt"

# Not a terminal: stderr stays empty; --quiet on a terminal: no line either.
"$akt" solve "$spec" "${long[@]}" > "$work/out.txt" 2> "$work/err.txt"
check "pipe: exit 0" test $? -eq 0
check "pipe: nothing on stderr" test ! -s "$work/err.txt"
on_tty --quiet > "$work/quiet.txt"
check "quiet: no progress line" bash -c "! grep -q 'replica' '$work/quiet.txt'"

# Ctrl-C: SIGINT a long solve; it stops at the next step with exit 130, prints the regimes
# reached (the interrupted one not converged) and says where it stopped.
"$akt" solve "$spec" --set solver.neurons=4096 --set solver.replicas=4 --json \
    > "$work/int.json" 2> "$work/int.err" &
pid=$!
sleep 2
kill -INT "$pid"
started=$(date +%s)
wait "$pid"
status=$?
waited=$(( $(date +%s) - started ))
check "interrupt: exit 130 (got $status)" test "$status" -eq 130
check "interrupt: stopped within 10 s (took $waited s)" test "$waited" -le 10
check "interrupt: the message says so ($(cat "$work/int.err"))" grep -q "interrupted (Ctrl-C) at t = " "$work/int.err"
check "interrupt: what was reached, not converged" grep -q '"converged": false' "$work/int.json"

echo "$checks checks, $failures failed"
test "$failures" -eq 0
