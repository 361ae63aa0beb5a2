#!/usr/bin/env bash
# Bad data, bad arguments and numerical faults end to end (issue 7), beyond the spec errors of
# tests/cli/cli_errors.sh and tests/spec: every bad input exits 2 with a one-line message naming
# file:line:column or the key, prints nothing on stdout and creates no output directory; every
# numerical fault exits 1 naming the regime, the time and the quantity.
# usage: cli_hardening.sh AKT FASHION_MNIST_DIR
set -u
akt="$1"
fashion="${2:-/usr/share/datasets/fashion-mnist}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

fail() {
    failures=$((failures + 1))
    echo "FAIL: $*"
}

# expect STATUS PATTERN ARGS...: exit status, first stderr line matches PATTERN (extended
# regex), stdout empty.
expect() {
    local want_status="$1" pattern="$2"
    shift 2
    checks=$((checks + 1))
    "$akt" "$@" >"$work/out" 2>"$work/err"
    local status=$? first
    first=$(head -n 1 "$work/err")
    if [ "$status" -ne "$want_status" ] || ! grep -Eq -- "$pattern" <<<"$first" || [ -s "$work/out" ]; then
        fail "akt $* -> status $status (want $want_status), stderr: $first (want /$pattern/), stdout bytes: $(wc -c <"$work/out")"
    fi
}

# expect_data PATTERN SPEC: `akt data SPEC --out DIR` exits 2 naming PATTERN and creates no DIR.
expect_data() {
    local pattern="$1" spec="$2"
    rm -rf "$work/never"
    expect 2 "$pattern" data "$spec" --out "$work/never"
    checks=$((checks + 1))
    [ -e "$work/never" ] && fail "akt data $spec created its --out directory"
}

# expect_numeric PATTERN ARGS...: exit 1 with PATTERN in the last stderr line (akt solve prints
# what it reached on stdout first, as DESIGN.md asks).
expect_numeric() {
    local pattern="$1"
    shift
    checks=$((checks + 1))
    "$akt" "$@" >"$work/out" 2>"$work/err"
    local status=$? last
    last=$(tail -n 1 "$work/err")
    if [ "$status" -ne 1 ] || ! grep -Eq -- "$pattern" <<<"$last" || [ "$(wc -l <"$work/err")" -ne 1 ]; then
        fail "akt $* -> status $status (want 1), stderr: $last (want /$pattern/)"
    fi
}

cat >"$work/good.yaml" <<'Y'
seed: 3
data: {task: linear, dim: 8, source: {samples: 20}, target: {samples: 6}, test: {samples: 30}}
network: {activation: linear}
source: {gamma: 1.0, weight_decay: 0.05, time: 5}
target: {time: 5, regimes: [scratch, readout, joint]}
solver: {method: exact}
Y
# control: the good spec solves
checks=$((checks + 1))
"$akt" solve "$work/good.yaml" >/dev/null 2>&1 || fail "the control spec does not solve"

# ---- unreadable spec (tests run as root, so chmod 000 would not stop a read)
mkdir "$work/adirectory.yaml"
expect 2 "adirectory\.yaml" check "$work/adirectory.yaml"
expect 2 "adirectory\.yaml" solve "$work/adirectory.yaml"
expect 2 "nowhere/spec\.yaml" solve "$work/nowhere/spec.yaml"
expect_data "nowhere/spec\.yaml" "$work/nowhere/spec.yaml"
: >"$work/empty.yaml"
checks=$((checks + 1))
"$akt" check "$work/empty.yaml" >/dev/null 2>&1 || fail "an empty spec (all defaults) is refused"

# ---- corrupt Fashion-MNIST files: copies of the real files, one damaged at a time
fm_spec() { # fm_spec NAME DIR
    cat >"$work/$1.yaml" <<Y
data: {task: fashion_mnist, path: $2, source: {samples: 10}, target: {samples: 5}, test: {samples: 10}}
network: {activation: linear}
solver: {method: exact}
Y
}
if [ -r "$fashion/train-labels-idx1-ubyte.gz" ]; then
    fm_dir() { # fm_dir NAME: a fresh copy of the dataset directory
        rm -rf "$work/$1"
        cp -r "$fashion" "$work/$1"
    }
    images=train-images-idx3-ubyte.gz
    labels=train-labels-idx1-ubyte.gz
    # control: the intact copy loads
    fm_dir intact
    fm_spec intact "$work/intact"
    checks=$((checks + 1))
    "$akt" data "$work/intact.yaml" --out "$work/intact_out" 2>/dev/null &&
        [ "$(wc -l <"$work/intact_out/target_y.csv")" -eq 5 ] || fail "the intact Fashion-MNIST copy does not load"
    # truncated gzip stream (first 100 kB of 26 MB)
    fm_dir truncated
    head -c 100000 "$fashion/$images" >"$work/truncated/$images"
    fm_spec truncated "$work/truncated"
    expect_data "truncated/$images: truncated" "$work/truncated.yaml"
    # a flipped byte inside the deflate data: zlib's data or CRC check fails
    fm_dir flipped
    printf '\x55' | dd of="$work/flipped/$labels" bs=1 seek=20000 conv=notrunc status=none
    fm_spec flipped "$work/flipped"
    expect_data "flipped/$labels: (truncated or )?corrupt" "$work/flipped.yaml"
    # a gzip file whose content is not IDX (wrong magic number)
    fm_dir magic
    echo "not an idx file at all" | gzip >"$work/magic/$labels"
    fm_spec magic "$work/magic"
    expect_data "magic/$labels: wrong magic" "$work/magic.yaml"
    # IDX labels with fewer items than images (header and data agree, sets do not)
    fm_dir short
    { printf '\x00\x00\x08\x01\x00\x00\x00\x03'; printf '\x01\x02\x03'; } | gzip >"$work/short/$labels"
    fm_spec short "$work/short"
    expect_data "has 3 labels but .* has 60000 images" "$work/short.yaml"
    # a header that declares more data than the file holds
    fm_dir header
    { printf '\x00\x00\x08\x01\x00\x01\x00\x00'; printf '\x01\x02\x03'; } | gzip >"$work/header/$labels"
    fm_spec header "$work/header"
    expect_data "header/$labels: truncated" "$work/header.yaml"
    # a missing file
    fm_dir missing
    rm "$work/missing/t10k-labels-idx1-ubyte.gz"
    fm_spec missing "$work/missing"
    expect_data "missing/t10k-labels-idx1-ubyte\.gz: cannot open" "$work/missing.yaml"
    rm -rf "$work"/{intact,truncated,flipped,magic,short,header,missing}
else
    echo "SKIP: no Fashion-MNIST at $fashion (corrupt IDX cases not run)"
fi

# ---- CSV data: every split reads x and y files relative to the spec
mkdir "$work/csv"
printf '1,2\n3,4\n5,6.5\n' >"$work/csv/x.csv"
printf '1\n2\n3\n' >"$work/csv/y.csv"
csv_spec() { # csv_spec NAME SOURCE_X SOURCE_Y [TARGET_X]
    cat >"$work/$1.yaml" <<Y
data:
  task: csv
  source: {x: csv/$2, y: csv/$3}
  target: {x: csv/${4:-x.csv}, y: csv/y.csv}
  test: {x: csv/x.csv, y: csv/y.csv}
network: {activation: linear}
solver: {method: exact}
Y
}
csv_spec csvgood x.csv y.csv
checks=$((checks + 1))
"$akt" solve "$work/csvgood.yaml" >/dev/null 2>&1 || fail "the control csv spec does not solve"

printf '1,2\n3,4,5\n5,6\n' >"$work/csv/ragged.csv"
csv_spec ragged ragged.csv y.csv
expect_data "csv/ragged\.csv:2:5: ragged row" "$work/ragged.yaml"
expect 2 "csv/ragged\.csv:2:5: ragged row" solve "$work/ragged.yaml"
printf '1,2\n3\n' >"$work/csv/short.csv"
csv_spec shortrow short.csv y.csv
expect_data "csv/short\.csv:2:[0-9]+: ragged row" "$work/shortrow.yaml"
printf '1,2\n3,abc\n5,6\n' >"$work/csv/text.csv"
csv_spec text text.csv y.csv
expect_data "csv/text\.csv:2:3: field is not a number" "$work/text.yaml"
printf '1,2\n3,,4\n' >"$work/csv/emptyfield.csv"
csv_spec emptyfield emptyfield.csv y.csv
expect_data "csv/emptyfield\.csv:2:3: empty field" "$work/emptyfield.yaml"
printf 'a,b\n1,2\n3,4\n' >"$work/csv/header.csv"
csv_spec header header.csv y.csv
expect_data "csv/header\.csv:1:1: field is not a number" "$work/header.yaml"
printf '1,2\n3,nan\n5,6\n' >"$work/csv/nan.csv"
csv_spec nan nan.csv y.csv
expect_data "csv/nan\.csv:2:3: value 'nan' is not finite" "$work/nan.yaml"
printf '1\n-inf\n3\n' >"$work/csv/inf_y.csv"
csv_spec inf x.csv inf_y.csv
expect_data "csv/inf_y\.csv:2:1: value '-inf' is not finite" "$work/inf.yaml"
printf '1,2\n1e999,4\n5,6\n' >"$work/csv/overflow.csv"
csv_spec overflow overflow.csv y.csv
expect_data "csv/overflow\.csv:2:1: value '1e999' is not finite" "$work/overflow.yaml"
: >"$work/csv/empty.csv"
csv_spec emptyfile empty.csv y.csv
expect_data "csv/empty\.csv: empty file" "$work/emptyfile.yaml"
# mismatched sizes: x and y of a split, and x widths across splits
printf '1\n2\n' >"$work/csv/y2.csv"
csv_spec rows x.csv y2.csv
expect_data "data\.source: .*x\.csv has 3 rows but .*y2\.csv has 2" "$work/rows.yaml"
printf '1,2,3\n4,5,6\n7,8,9\n' >"$work/csv/x3.csv"
csv_spec widths x.csv y.csv x3.csv
expect_data "x3\.csv has 3 columns but .*x\.csv has 2" "$work/widths.yaml"
printf '1,2\n3,4\n5,6\n' >"$work/csv/y_two.csv"
csv_spec ycols x.csv y_two.csv
expect_data "y_two\.csv: data\.source\.y must have one column" "$work/ycols.yaml"
csv_spec nofile nothere.csv y.csv
expect_data "csv/nothere\.csv: cannot open" "$work/nofile.yaml"

# ---- --set with bad syntax (the key or the text is named)
expect 2 "--set" check "$work/good.yaml" --set "=5"
expect 2 "source\.gamma" check "$work/good.yaml" --set "source.gamma=[1,"
expect 2 "source\.gamma" check "$work/good.yaml" --set "source.gamma="
expect 2 "source\.\.gamma" check "$work/good.yaml" --set "source..gamma=1"
expect 2 "--set" check "$work/good.yaml" --set
expect 2 "source" check "$work/good.yaml" --set "source=1"
expect 2 "target\.regimes" check "$work/good.yaml" --set "target.regimes=[scratch, sideways]"

# ---- sweeps: akt check refuses unknown or unsweepable keys, with line:column
cat >"$work/sweepkey.yaml" <<'Y'
seed: 1
sweep:
  data.alignmnt: [0, 0.5]
Y
expect 2 "sweepkey\.yaml:3:3: sweep: unknown key 'data\.alignmnt'; did you mean 'data\.alignment'" check "$work/sweepkey.yaml"
cat >"$work/sweepnothing.yaml" <<'Y'
sweep: {frobnication: [1, 2]}
Y
expect 2 "sweepnothing\.yaml:1:9: sweep: unknown key 'frobnication'" check "$work/sweepnothing.yaml"
cat >"$work/sweepmap.yaml" <<'Y'
sweep: {data.source: [1, 2]}
Y
expect 2 "sweepmap\.yaml:1:9: sweep: (data\.source is not a scalar key|unknown key 'data\.source')" check "$work/sweepmap.yaml"
cat >"$work/sweeptask.yaml" <<'Y'
sweep: {data.task: [linear, polynomial]}
Y
expect 2 "sweeptask\.yaml:1:9: sweep: data\.task cannot be swept" check "$work/sweeptask.yaml"
cat >"$work/sweepscalar.yaml" <<'Y'
sweep: {data.alignment: 0.5}
Y
expect 2 "sweepscalar\.yaml:1:[0-9]+: sweep\.data\.alignment: expected a list" check "$work/sweepscalar.yaml"

# ---- numerical faults: exit 1, regime + time + quantity in the message
# step-size collapse: min_step 1 is above any step the 8th-order stepper takes on this problem
expect_numeric "regime source: .*step size [0-9.e+-]+ fell below min_step 1 at t = [0-9.]+" \
    solve "$work/good.yaml" --set solver.min_step=1
# no convergence within max_time: the joint regime at time converge, max_time 0.01
expect_numeric "regime joint: .*max_time 0\.01 reached with residual [0-9.e+-]+ above tolerance 1e-14" \
    solve "$work/good.yaml" --set target.time=converge --set target.regimes=[joint] \
    --set solver.max_time=0.01 --set solver.tolerance=1e-14
checks=$((checks + 1))
grep -q '"converged": false' "$work/out" 2>/dev/null || "$akt" solve "$work/good.yaml" --json \
    --set target.time=converge --set target.regimes=[joint] --set solver.max_time=0.01 \
    --set solver.tolerance=1e-14 2>/dev/null | grep -q '"regime": "joint", "test_loss": null, "train_loss": null, "mc_error": null, "converged": false' ||
    fail "akt solve --json does not report the unconverged joint regime with converged false"
# NaN/Inf in a state: a finite-width network with gamma 1e200 overflows on its first Euler step
expect_numeric "regime source: non-finite network output on the training points at t = [0-9.e+-]+" \
    train "$work/good.yaml" --width 16 --set source.gamma=1e200
checks=$((checks + 1))
[ -s "$work/out" ] && fail "akt train printed results after a diverged run"
# ... and with gamma 1e-200 the outputs stay finite but their squares overflow: the loss is Inf
expect_numeric "regime source: non-finite training loss at t = 5 \(gamma 1e-200\)" \
    train "$work/good.yaml" --width 16 --set source.gamma=1e-200

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
