"""Library errors raise akt.InputError / akt.NumericError with the library's message."""
import re

import numpy as np
import pytest

import akt
from conftest import QUICKSTART, QUICK_REDUCED, RELU_REDUCED, RELU_SMALL


def test_exception_classes():
    assert issubclass(akt.InputError, akt.Error) and issubclass(akt.NumericError, akt.Error)
    assert issubclass(akt.Error, Exception)


def test_bad_key_in_a_file_names_file_line_column(tmp):
    path = tmp / "bad.yaml"
    path.write_text(open(QUICKSTART).read().replace("noise: 0.1", "nois: 0.1"))
    with pytest.raises(akt.InputError) as e:
        akt.solve(str(path))
    assert re.match(re.escape(str(path)) + r":\d+:\d+: unknown key 'data.nois'", str(e.value))
    with pytest.raises(akt.InputError, match=r"<string>:3:3: unknown key 'data.tsk'"):
        akt.solve("seed: 1\ndata:\n  tsk: linear\n")


def test_bad_override_names_the_key():
    with pytest.raises(akt.InputError, match=r"data\.alignmnet.*did you mean 'data\.alignment'"):
        akt.solve(QUICKSTART, **{"data.alignmnet": 0.3})
    with pytest.raises(akt.InputError, match=r"data\.alignment"):
        akt.data(QUICKSTART, set={"data.alignment": 2})
    with pytest.raises(akt.InputError):
        akt.check(QUICKSTART, **{"solver.method": "exakt"})


def test_missing_file_and_unserved_request():
    with pytest.raises(akt.InputError, match="no_such_spec.yaml"):
        akt.solve("no_such_spec.yaml")
    with pytest.raises(akt.InputError, match="method exact serves linear"):
        akt.solve(QUICKSTART, **{"network.activation": "relu"})


def test_output_files_are_arrays_in_python():
    with pytest.raises(akt.InputError, match=r"output\.trajectory: .*trajectory="):
        akt.solve(QUICKSTART, **{"output.trajectory": "t.csv"})


def test_numeric_failure_keeps_what_was_reached():
    with pytest.raises(akt.NumericError, match="min_step") as e:
        akt.solve(QUICKSTART, **QUICK_REDUCED, **{"solver.min_step": 1})
    assert e.value.solution is not None
    assert e.value.solution["source"].converged is False


def test_bad_arrays():
    splits = dict(akt.data(QUICKSTART, **QUICK_REDUCED))
    with pytest.raises(akt.InputError, match="data.target"):
        akt.solve(QUICKSTART, data={**splits, "target": (splits["target"][0][:3],
                                                          splits["target"][1])})
    with pytest.raises(akt.InputError, match="test is missing"):
        akt.solve(QUICKSTART, data={k: v for k, v in splits.items() if k != "test"})
    with pytest.raises(akt.InputError, match="same width"):
        akt.solve(QUICKSTART, data={**splits, "test": (splits["test"][0][:, :3],
                                                        splits["test"][1])})
    bad = splits["source"][1].copy()
    bad[0] = np.nan
    with pytest.raises(akt.InputError, match="NaN"):
        akt.solve(QUICKSTART, data={**splits, "source": (splits["source"][0], bad)})
    with pytest.raises(akt.InputError, match="unknown split"):
        akt.solve(QUICKSTART, kernels=["targte"])


def test_exception_in_progress_callback_stops_the_solve():
    def progress(*args):
        raise ValueError("stop here")
    with pytest.raises(ValueError, match="stop here"):
        akt.solve(RELU_SMALL, **RELU_REDUCED, progress=progress)
