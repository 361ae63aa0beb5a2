"""akt.data gives the rows `akt data` writes, and a solve on numpy arrays equals the solve of
the same rows from those CSV files."""
import numpy as np
import pytest

import akt
from conftest import (QUICKSTART, QUICK_REDUCED, RELU_REDUCED, RELU_SMALL, cli, cli_json,
                      without_seconds)


def write_csv(spec, overrides, directory):
    args = ["data", spec, "--out", str(directory)]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    cli(*args)


def load_csv(directory):
    return {name: (np.loadtxt(directory / f"{name}_X.csv", delimiter=",", ndmin=2),
                   np.loadtxt(directory / f"{name}_y.csv", delimiter=",", ndmin=1))
            for name in akt.SPLITS}


def csv_spec(spec, overrides, directory):
    """The spec with its data replaced by the CSV files of directory (task csv)."""
    checked = akt.check(spec, **overrides)
    checked["data"] = {"task": "csv", **{
        name: {"x": str(directory / f"{name}_X.csv"), "y": str(directory / f"{name}_y.csv")}
        for name in akt.SPLITS}}
    return checked


def test_data_equals_akt_data_files(tmp):
    write_csv(QUICKSTART, QUICK_REDUCED, tmp)
    splits = akt.data(QUICKSTART, **QUICK_REDUCED)
    files = load_csv(tmp)
    assert list(splits) == list(akt.SPLITS)
    for name in akt.SPLITS:
        X, y = splits[name]
        assert X.dtype == np.float64 and X.shape == (len(y), 50)
        assert np.array_equal(X, files[name][0]) and np.array_equal(y, files[name][1])
    assert splits["test"][0].shape[0] == 100 and splits["target"][0].shape[0] == 25
    assert splits.alignment == akt.solve(QUICKSTART, **QUICK_REDUCED).alignment


@pytest.mark.parametrize("spec, overrides", [(QUICKSTART, QUICK_REDUCED),
                                             (RELU_SMALL, RELU_REDUCED)])
def test_solve_on_arrays_equals_csv_solve(tmp, spec, overrides):
    write_csv(spec, overrides, tmp)
    from_arrays = akt.solve(spec, data=load_csv(tmp), **overrides)
    csv = csv_spec(spec, overrides, tmp)
    from_csv = akt.solve(csv)
    assert without_seconds(from_arrays.to_dict()["results"]) == without_seconds(
        from_csv.to_dict()["results"])
    assert from_arrays.alignment == from_csv.alignment   # measured the same way
    # and the command line on the csv spec says the same
    path = tmp / "csv.yaml"
    path.write_text(akt.check(csv, yaml=True))
    assert without_seconds(cli_json(str(path))["results"]) == without_seconds(
        from_csv.to_dict()["results"])
    # the arrays are the spec's own data, so the numbers are the spec's solve's
    assert without_seconds(from_arrays.to_dict()["results"]) == without_seconds(
        akt.solve(spec, **overrides).to_dict()["results"])


def test_arrays_of_other_types_and_without_source_test():
    splits = akt.data(QUICKSTART, **QUICK_REDUCED)
    as_lists = {name: (X.tolist(), y.reshape(-1, 1)) for name, (X, y) in splits.items()}
    a = akt.solve(QUICKSTART, data=as_lists, **QUICK_REDUCED)
    b = akt.solve(QUICKSTART, data=dict(splits), **QUICK_REDUCED)
    assert without_seconds(a.to_dict()["results"]) == without_seconds(b.to_dict()["results"])
    del splits["source_test"]
    c = akt.solve(QUICKSTART, data=splits, **QUICK_REDUCED)
    assert [r.regime for r in c] == ["source", "scratch", "readout", "joint"]


def test_arrays_decide_the_dimension(tmp):
    """Linear-teacher data in D = 30 under relu_small's settings (whose spec says D = 20): the
    arrays decide, as a csv task's files would."""
    small = {**QUICK_REDUCED, "data.dim": 30, "data.source.samples": 40}
    write_csv(QUICKSTART, small, tmp)
    from_arrays = akt.solve(RELU_SMALL, data=load_csv(tmp), **RELU_REDUCED)
    spec = akt.check(RELU_SMALL, **RELU_REDUCED)
    spec["data"] = csv_spec(QUICKSTART, small, tmp)["data"]
    from_csv = akt.solve(spec)
    assert without_seconds(from_arrays.to_dict()["results"]) == without_seconds(
        from_csv.to_dict()["results"])
    assert from_arrays.alignment == from_csv.alignment
