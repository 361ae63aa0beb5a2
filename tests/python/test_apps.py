"""akt.train, akt.compare and akt.sweep give the records of akt train/compare --json and the rows
of akt sweep (with the same resumable file)."""
import json

import akt
from conftest import QUICKSTART, QUICK_REDUCED, cli

# the quickstart shrunk to a few milliseconds of network training
TINY = {"data.dim": 5, "data.source.samples": 10, "data.target.samples": 5,
        "data.test.samples": 20, "source.time": 0.5, "target.time": 0.5}


def cli_args(overrides):
    return [a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]


def drop_seconds(record):
    if isinstance(record, dict):
        return {k: drop_seconds(v) for k, v in record.items() if k != "seconds"}
    if isinstance(record, list):
        return [drop_seconds(v) for v in record]
    return record


def test_train_equals_cli():
    expected = json.loads(cli("train", QUICKSTART, "--width", "8", "--seeds", "2", "--json",
                              *cli_args(TINY)))
    records = akt.train(QUICKSTART, width=8, seeds=2, **TINY)
    assert drop_seconds(records) == drop_seconds(expected["results"])
    assert [r["regime"] for r in records] == ["source", "scratch", "readout", "joint"]


def test_compare_equals_cli():
    expected = json.loads(cli("compare", QUICKSTART, "--widths", "8,16", "--seeds", "2",
                              "--json", *cli_args(TINY)))
    records = akt.compare(QUICKSTART, widths=[8, 16], seeds=2, **TINY)
    assert drop_seconds(records) == drop_seconds(expected["results"])
    assert [w["width"] for w in records[0]["widths"]] == [8, 16]
    assert set(records[0]["fit"]) == {"slope", "intercept", "intercept_error", "compatible"}


def rows_of(table):
    if isinstance(table, list):
        return table
    return table.to_dict("records")   # a pandas DataFrame


def same_rows(a, b):
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a]
    return strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b]


def test_sweep_rows_equal_cli_and_resume(tmp):
    axes = {"data.alignment": [0.2, 0.8], "target.elastic": "linspace(0, 1, 2)"}
    expected = [json.loads(line) for line in cli(
        "sweep", QUICKSTART, "--json", "--set", "data.alignment=0.2,0.8",
        "--set", "target.elastic=linspace(0, 1, 2)", *cli_args(QUICK_REDUCED)).splitlines()]
    rows = rows_of(akt.sweep(QUICKSTART, axes, **QUICK_REDUCED))
    assert len(rows) == 4 * 4
    assert same_rows(rows, expected)
    # each point is the solve of its values
    point = akt.solve(QUICKSTART, **QUICK_REDUCED, **{"data.alignment": 0.8,
                                                       "target.elastic": 1.0})
    joint = [r for r in rows if r["point"] == 3 and r["regime"] == "joint"][0]
    assert joint["test_loss"] == point["joint"].test_loss
    # out=: the command line's resumable file; a second run resumes it (nothing to solve)
    for name in ("rows.jsonl", "rows.csv"):
        out = tmp / name
        first = rows_of(akt.sweep(QUICKSTART, axes, out=out, **QUICK_REDUCED))
        assert out.exists() and same_rows(first, expected)
        stamp = out.stat().st_mtime_ns
        again = rows_of(akt.sweep(QUICKSTART, axes, out=out, **QUICK_REDUCED))
        assert out.stat().st_mtime_ns == stamp and same_rows(again, first)
    cli("sweep", QUICKSTART, "--out", str(tmp / "rows.csv"), "--set", "data.alignment=0.2,0.8",
        "--set", "target.elastic=linspace(0, 1, 2)", *cli_args(QUICK_REDUCED))


def test_sweep_progress_and_interrupt_resume(tmp):
    import os
    import signal

    import pytest
    axes = {"data.alignment": [0.1, 0.5, 0.9]}
    calls = []
    full = rows_of(akt.sweep(QUICKSTART, axes, progress=lambda *a: calls.append(a),
                             **QUICK_REDUCED))
    assert calls == [(1, 3), (2, 3), (3, 3)]

    def interrupt_after_first(done, total):
        if done == 1:
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp / "rows.jsonl"
    with pytest.raises(KeyboardInterrupt):
        akt.sweep(QUICKSTART, axes, out=out, progress=interrupt_after_first, **QUICK_REDUCED)
    assert len(out.read_text().splitlines()) == 4          # point 0's four regimes
    calls.clear()
    resumed = rows_of(akt.sweep(QUICKSTART, axes, out=out, progress=lambda *a: calls.append(a),
                                **QUICK_REDUCED))
    assert calls == [(1, 2), (2, 2)]
    assert same_rows(resumed, full)
