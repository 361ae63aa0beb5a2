"""notebooks_export/python_example.py runs through the package (plot skipped without
matplotlib)."""
import os
import subprocess
import sys

from conftest import ROOT


def test_example_script_quick(tmp):
    out = tmp / "fig.png"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "notebooks_export",
                                                        "python_example.py"),
                           "--quick", "--out", str(out)],
                          capture_output=True, text=True, env=os.environ, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "joint, delta = 0.5" in lines[0] and len(lines) == 6
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "plot is skipped" in done.stderr
    else:
        assert out.stat().st_size > 1000
