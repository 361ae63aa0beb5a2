"""Shared helpers of the Python package's tests: the akt command line (AKT_EXE) and the
repository (AKT_SOURCE_ROOT), set by tests/python/meson.build."""
import json
import os
import subprocess

import pytest

ROOT = os.environ.get("AKT_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
EXE = os.environ.get("AKT_EXE", os.path.join(ROOT, "build", "src", "akt"))
QUICKSTART = os.path.join(ROOT, "problems", "quickstart.yaml")
RELU_SMALL = os.path.join(ROOT, "problems", "relu_small.yaml")

# relu_small reduced to a fraction of a second of work
RELU_REDUCED = {"solver.neurons": 64, "solver.replicas": 2, "source.time": 2, "target.time": 2,
                "data.test.samples": 100, "solver.step_tolerance": 1e-3}
# the quickstart reduced for loops of many solves
QUICK_REDUCED = {"source.time": 1, "target.time": 1, "data.test.samples": 100}


def pytest_configure(config):
    config.addinivalue_line("markers", "long: slow checks (meson suite python-long)")


def cli(*args):
    """Runs the akt command line; returns its stdout."""
    done = subprocess.run([EXE, *args], capture_output=True, text=True, check=True)
    return done.stdout


def cli_json(spec, overrides=None):
    args = ["solve", spec, "--json", "--quiet"]
    for key, value in (overrides or {}).items():
        args += ["--set", f"{key}={value}"]
    return json.loads(cli(*args))


def without_seconds(results):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in results]


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
