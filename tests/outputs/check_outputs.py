"""check_outputs.py RESULT.json DATA_DIR [KERNELS.csv] [TRAJECTORY.csv]

Checks akt solve's output files against things computed independently of the solver:
- trajectory: per (regime, replica) the times start at 0, increase, end at the phase time
  (spec), there are at most AKT_TRAJECTORY_GRID + 2 = 66 rows; the source phase starts from
  the zero output (train loss = mean y^2 of the data akt data wrote); the last rows' mean over
  replicas equals the reported train and test losses (to the last bit for one replica);
- kernels: Phi and G are symmetric; mc_error is empty for deterministic methods and for one
  replica; the readout regime's test and train losses are recomputed from the file's Phi on the
  target and test splits by kernel ridge regression with target.readout_decay (THEORY.md
  section 3), by Gaussian elimination here (one replica or no sampling); the alignment rows equal y'Ky/(|K|_F |y|^2) of the
  file's training block;
- observables (README "Observables"): every result has "observables" and "observable_errors"
  as its last keys, in the library's order; the readout regime's NTK and feature alignments on
  the target training (and test, where the file has it) points equal y'Ky/(|K|_F |y|^2) of the
  file's Phi (one replica or no sampling), its retention is 1 and its hidden distance 0; in the
  trajectory, where the last rows carry an observable, their mean is the reported value.
Prints what it measured; exits 1 on the first failed check."""
import csv
import json
import math
import os
import sys
from collections import defaultdict

GRID_ROWS = 64 + 2


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def read_column(path):
    with open(path) as handle:
        return [float(line) for line in handle if line.strip()]


def mean(values):
    return sum(values) / len(values)


def close(a, b, tolerance):
    return abs(a - b) <= tolerance * max(abs(b), 1e-300)


OBSERVABLES = ["ntk_alignment_train", "ntk_alignment_test", "feature_alignment_train",
               "feature_alignment_test", "retention", "source_test_loss", "hidden_distance",
               "readout_distance", "feature_learning"]


def check_observable_keys(result):
    for r in result["results"]:
        if list(r)[-2:] != ["observables", "observable_errors"]:
            fail("%s: the observables are not the last keys: %s" % (r["regime"], list(r)))
        if list(r["observables"]) != OBSERVABLES or list(r["observable_errors"]) != OBSERVABLES:
            fail("%s: observables %s" % (r["regime"], list(r["observables"])))
    print("observables: the last two keys of every result, %d names in order" % len(OBSERVABLES))


def check_trajectory(path, result, data_dir):
    spec = result["spec"]
    rows = defaultdict(list)
    with open(path) as handle:
        reader = csv.DictReader(handle)
        observables = OBSERVABLES
        if reader.fieldnames != ["regime", "replica", "time", "train_loss",
                                 "test_loss"] + observables:
            fail("trajectory header %s" % reader.fieldnames)
        for row in reader:
            rows[(row["regime"], int(row["replica"]))].append(row)
    reported = {r["regime"]: r for r in result["results"]}
    regimes = sorted({regime for regime, _ in rows})
    expected = sorted(r for r in reported if r != "readout")
    if regimes != expected:
        fail("trajectory regimes %s, expected %s" % (regimes, expected))
    for regime in regimes:
        replicas = sorted(replica for r, replica in rows if r == regime)
        last_train, last_test = [], []
        for replica in replicas:
            phase = rows[(regime, replica)]
            times = [float(r["time"]) for r in phase]
            if times[0] != 0.0 or any(b <= a for a, b in zip(times, times[1:])):
                fail("%s replica %d: times do not start at 0 and increase" % (regime, replica))
            if len(phase) > GRID_ROWS:
                fail("%s replica %d: %d rows > %d" % (regime, replica, len(phase), GRID_ROWS))
            horizon = spec["source" if regime == "source" else "target"]["time"]
            if horizon != "converge" and not close(times[-1], horizon, 1e-12):
                fail("%s: last time %r, phase time %r" % (regime, times[-1], horizon))
            last_train.append(float(phase[-1]["train_loss"]))
            last_test.append(float(phase[-1]["test_loss"]))
            if regime == "source":
                y = read_column(os.path.join(data_dir, "source_y.csv"))
                y_test = read_column(os.path.join(data_dir, "source_test_y.csv"))
                first = phase[0]
                if not (close(float(first["train_loss"]), mean([v * v for v in y]), 1e-13) and
                        close(float(first["test_loss"]), mean([v * v for v in y_test]), 1e-13)):
                    fail("source replica %d starts at %s, not at the zero output" % (replica, first))
        train, test = reported[regime]["train_loss"], reported[regime]["test_loss"]
        tolerance = 0.0 if len(replicas) == 1 else 1e-15
        for name in observables:
            ends = [rows[(regime, replica)][-1][name] for replica in replicas]
            if "" in ends:
                continue
            value = reported[regime]["observables"][name]
            if value is None or not close(mean([float(v) for v in ends]), value, tolerance):
                fail("%s %s: last rows %r, reported %r" % (regime, name, ends, value))
            print("trajectory %-7s %s: last rows' mean equals the reported %.6g" % (regime, name,
                                                                                 value))
        if not (close(mean(last_train), train, tolerance) and close(mean(last_test), test, tolerance)):
            fail("%s: last rows %r %r, reported %r %r" % (regime, last_train, last_test, train, test))
        print("trajectory %-7s %d replica(s), %d rows each at most, last rows equal the reported "
              "losses (train %.6g, test %.6g)" % (regime, len(replicas),
                                                 max(len(rows[(regime, r)]) for r in replicas),
                                                 train, test))


def solve(matrix, vector):
    """Gaussian elimination with partial pivoting."""
    n = len(vector)
    a = [list(row) + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in reversed(range(n)):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def alignment(K, y):
    n = len(y)
    quadratic = sum(y[i] * K[i][j] * y[j] for i in range(n) for j in range(n))
    frobenius = math.sqrt(sum(K[i][j] ** 2 for i in range(n) for j in range(n)))
    return quadratic / (frobenius * sum(v * v for v in y))


def check_readout_observables(Phi, readout, y2, y_test):
    """Only the readout trains, so its NTK is the source feature kernel Phi_s of the file."""
    observed = readout["observables"]
    for split, y, suffix in (("target", y2, "train"), ("test", y_test, "test")):
        if (split, 0, split, 0) not in Phi:
            continue
        K = [[Phi[(split, i, split, j)] for j in range(len(y))] for i in range(len(y))]
        want = alignment(K, y)
        for name in ("ntk_alignment_" + suffix, "feature_alignment_" + suffix):
            if observed[name] is None:
                continue   # the method offers no Phi_s on the test points
            if not close(observed[name], want, 1e-12):
                fail("readout %s %r, recomputed from the file %r" % (name, observed[name], want))
            print("readout %s %.6f recomputed from the kernel file" % (name, want))
    if observed["ntk_alignment_train"] is None:
        fail("readout: no training-split alignment")
    if observed["retention"] != 1.0 or observed["hidden_distance"] != 0.0:
        fail("readout: retention %r, hidden distance %r" % (observed["retention"],
                                                             observed["hidden_distance"]))


def check_kernels(path, result, data_dir):
    spec = result["spec"]
    entries = defaultdict(dict)
    alignments = {}
    errors = defaultdict(set)
    with open(path) as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != ["regime", "kernel", "row_split", "row", "column_split", "column",
                                 "value", "mc_error"]:
            fail("kernels header %s" % reader.fieldnames)
        for row in reader:
            key = (row["regime"], row["kernel"])
            if row["kernel"].startswith("alignment_"):
                alignments[key] = (row["row_split"], float(row["value"]))
                continue
            entries[key][(row["row_split"], int(row["row"]), row["column_split"],
                          int(row["column"]))] = float(row["value"])
            errors[key].add(row["mc_error"] == "")
    deterministic = spec["solver"]["method"] != "population" or spec["solver"]["replicas"] == 1
    for key, matrix in entries.items():
        for (a, i, b, j), value in matrix.items():
            if matrix[(b, j, a, i)] != value:
                fail("%s is not symmetric at %s %d, %s %d" % (key, a, i, b, j))
        if errors[key] != {deterministic}:
            fail("%s: mc_error fields %s, deterministic %s" % (key, errors[key], deterministic))
    if ("readout", "G") in entries:
        fail("the readout regime has a G")
    reported = {r["regime"]: r for r in result["results"]}
    y2 = read_column(os.path.join(data_dir, "target_y.csv"))
    y_test = read_column(os.path.join(data_dir, "test_y.csv"))
    splits = {"source": read_column(os.path.join(data_dir, "source_y.csv")), "target": y2}
    # With several replicas the reported loss is the mean of the replicas' readout losses, and the
    # file holds the mean kernel: the two differ by more than round-off.
    if "readout" in reported and deterministic:
        Phi = entries[("readout", "Phi")]
        P, M = len(y2), len(y_test)
        ridge = spec["target"]["readout_decay"]
        K = [[Phi[("target", i, "target", j)] + (ridge if i == j else 0.0) for j in range(P)]
             for i in range(P)]
        alpha = solve(K, y2)
        f_train = [sum(Phi[("target", i, "target", j)] * alpha[j] for j in range(P)) for i in range(P)]
        f_test = [sum(Phi[("test", i, "target", j)] * alpha[j] for j in range(P)) for i in range(M)]
        train = mean([(f - y) ** 2 for f, y in zip(f_train, y2)])
        test = mean([(f - y) ** 2 for f, y in zip(f_test, y_test)])
        want = reported["readout"]
        print("readout from the kernel file: test %.12g (reported %.12g), train %.12g (reported "
              "%.12g)" % (test, want["test_loss"], train, want["train_loss"]))
        if not (close(test, want["test_loss"], 1e-9) and close(train, want["train_loss"], 1e-8)):
            fail("the readout regime is not reproduced from the kernel file")
    if "readout" in reported and deterministic:
        check_readout_observables(entries[("readout", "Phi")], reported["readout"], y2, y_test)
    for (regime, name), (split, value) in alignments.items():
        kernel = name[len("alignment_"):]
        if kernel == "NTK" or (regime, kernel) not in entries:
            continue
        matrix = entries[(regime, kernel)]
        y = splits[split]
        if (split, 0, split, 0) not in matrix:
            continue
        K = [[matrix[(split, i, split, j)] for j in range(len(y))] for i in range(len(y))]
        if not close(alignment(K, y), value, 1e-12):
            fail("%s %s: alignment %r, recomputed %r" % (regime, name, value, alignment(K, y)))
        print("alignment %-7s %-13s %.6f recomputed from the file" % (regime, name, value))


def main():
    result = json.load(open(sys.argv[1]))
    data_dir = sys.argv[2]
    kernels = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None
    trajectory = sys.argv[4] if len(sys.argv) > 4 else None
    check_observable_keys(result)
    if trajectory:
        check_trajectory(trajectory, result, data_dir)
    if kernels:
        check_kernels(kernels, result, data_dir)


main()
