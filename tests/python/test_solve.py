"""akt.solve equals `akt solve --json` bit for bit, whatever form the spec takes."""
import json
import math

import numpy as np

import akt
from conftest import (QUICKSTART, QUICK_REDUCED, RELU_REDUCED, RELU_SMALL, cli_json, without_seconds)


def check_equal(solution, expected):
    got = solution.to_dict()
    assert without_seconds(got["results"]) == without_seconds(expected["results"])
    for r in got["results"]:
        assert isinstance(r["seconds"], float) and r["seconds"] >= 0
    assert got["alignment"] == expected["alignment"]
    assert got["spec"] == expected["spec"]


def test_quickstart_equals_cli():
    expected = cli_json(QUICKSTART)
    check_equal(akt.solve(QUICKSTART), expected)
    # the built-in quickstart is the same problem (the spec's file name aside)
    assert without_seconds(akt.solve().to_dict()["results"]) == without_seconds(
        expected["results"])


def test_relu_small_reduced_equals_cli():
    expected = cli_json(RELU_SMALL, RELU_REDUCED)
    solution = akt.solve(RELU_SMALL, **RELU_REDUCED)
    check_equal(solution, expected)
    assert [r.method for r in solution] == ["population"] * 4
    assert all(r.mc_error is not None and r.mc_error > 0 for r in solution)


def test_spec_forms_and_overrides():
    changes = {"data.alignment": 0.9, "target.elastic": 0}
    expected = cli_json(QUICKSTART, {**QUICK_REDUCED, **changes})
    results = without_seconds(expected["results"])
    by_kwargs = akt.solve(QUICKSTART, **QUICK_REDUCED, **changes)
    by_set = akt.solve(QUICKSTART, set={**QUICK_REDUCED, **changes})
    text = open(QUICKSTART).read()
    by_text = akt.solve(text, set=["data.alignment=0.9"], **QUICK_REDUCED, **{"target.elastic": 0})
    by_dict = akt.solve(akt.check(QUICKSTART, **QUICK_REDUCED), **changes)
    for s in (by_kwargs, by_set, by_text, by_dict):
        assert without_seconds(s.to_dict()["results"]) == results
    assert by_dict.spec == expected["spec"]


def test_result_fields():
    solution = akt.solve(QUICKSTART, **QUICK_REDUCED, **{"target.regimes": "[scratch, joint]"})
    assert [r.regime for r in solution] == ["source", "scratch", "joint"]
    joint = solution["joint"]
    assert joint is solution[2]
    assert joint.transfer_benefit == solution["scratch"].test_loss - joint.test_loss
    assert solution["source"].transfer_benefit is None and joint.mc_error is None
    assert set(joint.to_dict()) == {"regime", "test_loss", "train_loss", "mc_error", "converged",
                                    "method", "iterations", "seconds", "residual", "stable",
                                    "transfer_benefit", "integration_error", "bias", "error",
                                    "test_loss_corrected", "observables", "observable_errors"}
    # exact: the closure's integration error is the whole error, no bias (DESIGN.md)
    assert joint.bias == 0 and joint.error == joint.integration_error and joint.error > 0
    json.dumps(solution.to_dict())  # plain Python values


def test_kernels_and_trajectory_as_arrays():
    solution = akt.solve(RELU_SMALL, **RELU_REDUCED, kernels=["target", "test"], trajectory=True)
    plain = akt.solve(RELU_SMALL, **RELU_REDUCED)
    # watching the solve does not change it
    assert without_seconds(solution.to_dict()["results"]) == without_seconds(
        plain.to_dict()["results"])
    M = 20 + 100
    for r in solution:
        k = r.kernels
        assert k["splits"] == ["target", "test"]
        assert k["Phi"].shape == (2, M, M)
        assert np.array_equal(k["Phi"], k["Phi"].transpose(0, 2, 1))
        if r.regime == "readout":
            assert k["G"] is None
            assert np.array_equal(k["Phi"], solution["source"].kernels["Phi"])
        else:
            assert k["G"].shape == (2, M, M)
    for regime in ("source", "scratch", "joint"):
        tr = solution[regime].trajectory
        assert len(tr["t"]) > 10 and set(tr["replica"]) == {0, 1}
        assert tr["t"][0] == 0 and math.isclose(tr["t"][-1], 2.0)
        last = tr["test_loss"][tr["replica"] == 1][-1]
        assert np.isfinite(last)
    assert len(solution["readout"].trajectory["t"]) == 0   # a closed form has no time steps


def test_progress_callback():
    calls = []
    akt.solve(RELU_SMALL, **RELU_REDUCED, progress=lambda *a: calls.append(a))
    assert calls
    regime, replica, replicas, t, horizon, steps = calls[0]
    assert regime in akt.REGIMES and replicas == 2 and 0 <= replica < 2
    assert 0 <= t <= horizon and isinstance(steps, int)
