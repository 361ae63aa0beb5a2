"""akt: adaptive kernels for transfer in infinitely wide networks, from Python.

The library (libakt) runs in this process through the extension module akt._akt; these
functions take and return Python values and numpy arrays::

    import akt
    solution = akt.solve("problems/quickstart.yaml", **{"data.alignment": 0.9})
    solution["joint"].test_loss            # the numbers of `akt solve --json`, bit for bit
    splits = akt.data("problems/quickstart.yaml")      # {"source": (X, y), ...}
    akt.solve(spec, data=splits)           # a solve on your own arrays

A spec is a path to a YAML file, a YAML text, a dict of the same keys, or None (the built-in
quickstart). Overrides are the dotted keys of the command line's --set, as keyword arguments
(``**{"solver.neurons": 256}``) or as ``set={...}``. Library errors raise InputError (bad input,
the command line's exit 2) or NumericError (exit 1), both subclasses of Error; Ctrl-C stops a
solve at its next step with KeyboardInterrupt.
"""

import csv
import json
import math
import os
import re
from collections.abc import Mapping

import numpy as np

from . import _akt
from ._akt import Error, InputError, NumericError

__all__ = ["solve", "data", "check", "train", "compare", "sweep", "Solution", "Result", "Data",
           "Error", "InputError", "NumericError", "REGIMES", "SPLITS", "OBSERVABLES"]

REGIMES = ("source", "scratch", "readout", "joint")
SPLITS = ("source", "target", "test", "source_test")
# The observables of README "Observables", in the library's order (the keys of
# Result.observables, the trajectory's columns after the losses, the sweep's columns).
OBSERVABLES = _akt.observable_names

# ---- specs and overrides -------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z0-9_./+\-][A-Za-z0-9_./+\- ]*")


def _yaml(value):
    """A Python value as flow-style YAML (a dict spec becomes one flow mapping)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise InputError(f"{value!r} is not a finite number")
        return repr(value)  # shortest text that reads back as the same double
    if isinstance(value, str):
        return value if _PLAIN.fullmatch(value) and not value.endswith(" ") else json.dumps(value)
    if isinstance(value, os.PathLike):
        return _yaml(os.fspath(value))
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_yaml(str(k) if not isinstance(k, int) else k)}: {_yaml(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a spec value")


def _source(spec):
    """(text, is_path, name, directory) for the extension."""
    if spec is None:
        return _akt.quickstart_yaml, False, "<built-in quickstart>", "."
    if isinstance(spec, Mapping):
        return _yaml(spec), False, "<dict>", os.getcwd()
    if isinstance(spec, os.PathLike):
        return os.fspath(spec), True, "", ""
    if isinstance(spec, str):
        if "\n" not in spec and (os.path.exists(spec) or spec.endswith((".yaml", ".yml"))):
            return spec, True, "", ""
        return spec, False, "<string>", os.getcwd()
    raise TypeError("spec must be a dict, a YAML string, a path or None")


def _overrides(set, overrides):
    """--set style "key=value" strings: a string value is YAML as written (as on the command
    line), anything else is written as YAML."""
    items = []
    for group in (set, overrides):
        if not group:
            continue
        if isinstance(group, str):
            group = [group]
        if not isinstance(group, Mapping) and any("=" not in a for a in group):
            raise InputError(f"set: expected 'key=value' strings, got {list(group)!r}")
        pairs = group.items() if isinstance(group, Mapping) else (a.split("=", 1) for a in group)
        for key, value in pairs:
            items.append(f"{key}={value if isinstance(value, str) else _yaml(value)}")
    return items


def _args(spec, set, overrides):
    return (*_source(spec), _overrides(set, overrides))


# ---- results -------------------------------------------------------------------------------

_FIELDS = ("regime", "test_loss", "train_loss", "mc_error", "converged", "method", "iterations",
           "seconds", "residual", "stable", "transfer_benefit", "integration_error", "bias",
           "error", "test_loss_corrected", "observables", "observable_errors")


class Result:
    """One regime's answer with the fields of `akt solve --json` (None where the JSON has
    null); .observables and .observable_errors are {name: value or None} in OBSERVABLES order.
    With kernels asked for: .kernels = {"splits": [...], "Phi": (R, M, M), "G": (R, M, M)
    or None}, one estimate per replica (their mean is the kernel of all neurons together; the
    readout regime's is the source's, and it has no G). With trajectory=True: .trajectory =
    {"replica", "t", "train_loss", "test_loss", and each name of OBSERVABLES} as arrays (NaN
    where an observable was not measured; empty for closed forms)."""

    __slots__ = _FIELDS + ("kernels", "trajectory")

    def __init__(self, fields):
        for name in _FIELDS:
            setattr(self, name, fields[name])
        self.kernels = fields.get("kernels")
        rows = fields.get("trajectory")
        self.trajectory = None if rows is None else {
            "replica": rows[:, 0].astype(np.int64), "t": rows[:, 1],
            "train_loss": rows[:, 2], "test_loss": rows[:, 3],
            **{name: rows[:, 4 + k] for k, name in enumerate(OBSERVABLES)}}

    def to_dict(self):
        return {name: getattr(self, name) for name in _FIELDS}

    def __repr__(self):
        return (f"Result(regime={self.regime!r}, test_loss={self.test_loss!r}, "
                f"error={self.error!r}, method={self.method!r}, "
                f"converged={self.converged!r})")


class Solution:
    """The results of a solve, source first: iterate, index by position or regime name."""

    def __init__(self, raw):
        self.results = [Result(r) for r in raw["results"]]
        self.alignment = raw["alignment"]
        self.spec = json.loads(raw["spec"])

    def __getitem__(self, key):
        if isinstance(key, str):
            for r in self.results:
                if r.regime == key:
                    return r
            raise KeyError(key)
        return self.results[key]

    def __iter__(self):
        return iter(self.results)

    def __len__(self):
        return len(self.results)

    def to_dict(self):
        """What `akt solve --json` prints, as Python values."""
        return {"results": [r.to_dict() for r in self.results], "alignment": self.alignment,
                "spec": self.spec}

    def __repr__(self):
        return "Solution([\n" + "".join(f"  {r!r},\n" for r in self.results) + "])"


class Data(dict):
    """The splits of a problem: {"source": (X, y), "target": ..., "test": ...,
    "source_test": ...} (X rows x D, y rows), and .alignment as the solver reports it."""
    alignment = None


def _arrays(data):
    out = {}
    for name, pair in data.items():
        if name not in SPLITS:
            raise InputError(f"data: unknown split '{name}' ({', '.join(SPLITS)})")
        X, y = pair
        X = np.ascontiguousarray(X, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = np.ascontiguousarray(y.reshape(-1))
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise InputError(f"data.{name}: X must be rows x D and y rows, got shapes "
                             f"{X.shape} and {y.shape}")
        out[name] = (X, y)
    return out


# ---- the functions -------------------------------------------------------------------------

def solve(spec=None, set=None, *, data=None, kernels=None, trajectory=False, progress=None,
          **overrides):
    """Predicted losses of every regime, as `akt solve` computes them.

    data: {"source": (X, y), "target": ..., "test": ..., "source_test": ...} (source_test
    optional) solves on these arrays instead of the spec's data (whose keys are then only
    validated; the alignment is measured as for csv tasks). kernels: True (the target split) or
    a list of split names: each result gets its adapted kernels as arrays. trajectory: each
    result gets its loss trajectory. progress: called a few times a second as
    progress(regime, replica, replicas, t, horizon, steps); an exception it raises stops the
    solve. A numerical failure raises NumericError whose .solution holds what was reached."""
    if kernels is True:
        kernels = ["target"]
    elif kernels is False or (kernels is not None and len(kernels) == 0):
        kernels = None
    elif isinstance(kernels, str):
        kernels = [kernels]
    try:
        raw = _akt.solve(*_args(spec, set, overrides),
                         data=None if data is None else _arrays(data),
                         kernels=None if kernels is None else list(kernels),
                         trajectory=bool(trajectory), progress=progress)
    except NumericError as e:
        partial = getattr(e, "partial", None)
        e.solution = Solution(partial) if partial is not None else None
        raise
    return Solution(raw)


def check(spec=None, set=None, *, yaml=False, **overrides):
    """The validated spec with every default filled, as a dict (or as YAML text with
    yaml=True, what `akt check` prints)."""
    spec_json, spec_yaml = _akt.check(*_args(spec, set, overrides))
    return spec_yaml if yaml else json.loads(spec_json)


def data(spec=None, set=None, **overrides):
    """The data a solve of spec uses (the rows `akt data` writes), as numpy arrays."""
    raw = _akt.data(*_args(spec, set, overrides))
    out = Data((name, raw[name]) for name in SPLITS if name in raw)
    out.alignment = raw["alignment"]
    return out


def train(spec=None, width=256, seeds=1, set=None, **overrides):
    """Finite-width networks (`akt train`): one record per regime, as in `akt train --json`:
    the seed mean, sd and standard error of the test loss, the Euler bias and the step bound."""
    return _akt.train(*_args(spec, set, overrides), width=int(width), seeds=int(seeds))


def compare(spec=None, widths=(256, 1024, 4096), seeds=4, set=None, **overrides):
    """The theory next to networks of each width (`akt compare`): one record per regime, as
    in `akt compare --json`: the theory's result fields, "widths" (each width's seed mean, sd,
    standard error, Euler bias and gap to the theory) and "fit" (the 1/N extrapolation:
    slope, intercept, intercept_error, compatible)."""
    return _akt.compare(*_args(spec, set, overrides), widths=[int(w) for w in widths],
                        seeds=int(seeds))


def _axis(key, values):
    if isinstance(values, str):  # "linspace(a, b, n)", "logspace(a, b, n)", or "v1,v2"
        text = values if values.strip().startswith(("linspace", "logspace")) \
            else "[" + values + "]"
    else:
        text = _yaml(list(values))
    return f"sweep.{key}={text}"


def _csv_value(column, text):
    if column in ("regime", "method"):
        return text
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _read_table(path):
    with open(path, newline="") as f:
        if path.endswith(".jsonl"):
            return [json.loads(line) for line in f if line.strip()]
        return [{k: _csv_value(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


_PANDAS = []


def _pandas():
    """pandas if it is installed (looked up once: a failed import costs every time)."""
    if not _PANDAS:
        try:
            import pandas
        except ImportError:
            pandas = None
        _PANDAS.append(pandas)
    return _PANDAS[0]


def sweep(spec=None, axes=None, out=None, set=None, *, progress=None, **overrides):
    """The grid of the spec's sweep block and axes ({key: [values]} or {key: "linspace(a, b,
    n)"}), solved as `akt sweep` does: one row per point and regime. With out= (a .csv or
    .jsonl path) the command line's resumable file is written (rerunning resumes it) and the
    rows are read back from it. Returns a pandas DataFrame when pandas is installed, a list of
    dicts otherwise. progress(done, total) is called after each point; Ctrl-C stops the sweep
    after the point in flight (with out=, the finished points stay in the file and a rerun
    resumes)."""
    items = _overrides(set, overrides)
    items += [_axis(k, v) for k, v in (axes or {}).items()]
    text, is_path, name, directory = _source(spec)
    out_path = None if out is None else os.fspath(out)
    points = _akt.sweep(text, is_path, name, directory, items, out=out_path, progress=progress)
    rows = _read_table(out_path) if out_path is not None else \
        [json.loads(line) for text in points for line in text.splitlines() if line.strip()]
    pandas = _pandas()
    return rows if pandas is None else pandas.DataFrame(rows)
