"""The observables (README "Observables") through the package: Result.observables and
.observable_errors equal akt solve --json's, the readout regime's are recomputed from its
kernels (Phi_s: alignment y'Ky / (|K|_F |y|^2), retention 1, hidden distance 0), trajectory
arrays carry one column per observable equal by name to output.trajectory's CSV, and sweep rows
carry the solve's values."""
import csv
import json
import math
import os

import numpy as np

import akt
from conftest import QUICKSTART, QUICK_REDUCED, RELU_REDUCED, RELU_SMALL, cli, cli_json


def alignment(K, y):
    return float(y @ K @ y / (np.linalg.norm(K) * (y @ y)))


def test_names_and_json_order():
    expected = cli_json(QUICKSTART, QUICK_REDUCED)
    assert len(akt.OBSERVABLES) == 9 and akt.OBSERVABLES[0] == "ntk_alignment_train"
    for r in expected["results"]:
        assert tuple(r["observables"]) == akt.OBSERVABLES == tuple(r["observable_errors"])
        # after every key of the older contract (outside parsers read them by position)
        assert list(r)[-2:] == ["observables", "observable_errors"]
    solution = akt.solve(QUICKSTART, **QUICK_REDUCED)
    for got, want in zip(solution, expected["results"]):
        assert got.observables == want["observables"]
        assert got.observable_errors == want["observable_errors"]


def test_readout_from_its_kernels():
    """Sampled method, 2 replicas: the reported value is the replicas' mean of each replica's
    alignment of Phi_s on the target training points; retention and hidden distance are exact,
    so their errors (spread, integration and finite-S parts) are 0."""
    solution = akt.solve(RELU_SMALL, **RELU_REDUCED, kernels=["target"])
    y = akt.data(RELU_SMALL, **RELU_REDUCED)["target"][1]
    readout = solution["readout"]
    per_replica = [alignment(K, y) for K in readout.kernels["Phi"]]
    for name in ("ntk_alignment_train", "feature_alignment_train"):
        assert math.isclose(readout.observables[name], np.mean(per_replica), rel_tol=1e-12), (
            name, readout.observables[name], per_replica)
        assert readout.observable_errors[name] > 0
    assert readout.observables["retention"] == 1.0 and readout.observables["hidden_distance"] == 0
    assert readout.observable_errors["retention"] == 0 == readout.observable_errors["hidden_distance"]
    assert readout.observables["feature_learning"] is None   # the kernel does not move
    assert solution["source"].observables["retention"] is None


def test_deterministic_errors_are_zero():
    for r in akt.solve(QUICKSTART, **QUICK_REDUCED):
        for name, value in r.observables.items():
            assert (r.observable_errors[name] is None) == (value is None), (r.regime, name)
            if value is not None:
                assert r.observable_errors[name] == 0, (r.regime, name)


def nan_equal(a, b):
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def test_trajectory_columns_equal_the_csv(tmp):
    spec = tmp / "spec.yaml"
    spec.write_text(json.dumps({**akt.check(RELU_SMALL, **RELU_REDUCED),
                                "output": {"trajectory": "t.csv"}}))
    cli("solve", str(spec), "--quiet")
    with open(tmp / "t.csv") as handle:
        rows = list(csv.DictReader(handle))
    solution = akt.solve(RELU_SMALL, **RELU_REDUCED, trajectory=True)
    for regime in ("source", "scratch", "joint"):
        mine = [r for r in rows if r["regime"] == regime]
        tr = solution[regime].trajectory
        assert set(akt.OBSERVABLES) <= set(tr)
        for column in ("t", "test_loss") + akt.OBSERVABLES:
            name = "time" if column == "t" else column
            assert nan_equal(tr[column], [float(r[name]) if r[name] else math.nan for r in mine]), (
                regime, column)
        # where every replica's last row measured an observable, their mean is the reported one
        last = [np.flatnonzero(tr["replica"] == k)[-1] for k in sorted(set(tr["replica"]))]
        for name in akt.OBSERVABLES:
            ends = tr[name][last]
            reported = solution[regime].observables[name]
            if np.all(np.isfinite(ends)):
                assert reported is not None and math.isclose(np.mean(ends), reported,
                                                              rel_tol=1e-15), (regime, name)


def test_sweep_rows_carry_the_observables():
    rows = akt.sweep(QUICKSTART, {"data.alignment": [0.3]}, **QUICK_REDUCED)
    rows = rows if isinstance(rows, list) else rows.to_dict("records")
    solution = akt.solve(QUICKSTART, **QUICK_REDUCED, **{"data.alignment": 0.3})
    assert list(rows[0])[-2 * len(akt.OBSERVABLES):] == [
        c for name in akt.OBSERVABLES for c in (name, name + "_error")]
    for row in rows:
        result = solution[row["regime"]]
        for name in akt.OBSERVABLES:
            assert row[name] == result.observables[name], (row["regime"], name)
            assert row[name + "_error"] == result.observable_errors[name], (row["regime"], name)
