#!/usr/bin/env python3
"""Figure 1(a) of notebooks_export through the Python package: the target test loss of each
regime against the alignment of two linear teachers (specs/fig1a_linear_alignment.yaml), from
in-process calls (no CSV, no subprocess), plotted with matplotlib.

    PYTHONPATH=build/python python3 notebooks_export/python_example.py [--quick] [--out FILE.png]

--quick shrinks the problem (D = 50, 5 alignments, shorter times: a few seconds). Without
matplotlib the numbers are printed and the plot is skipped (exit 0)."""
import argparse
import os
import sys

import akt

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced problem, seconds")
    parser.add_argument("--out", default=os.path.join(HERE, "fig1a_python.png"))
    args = parser.parse_args()

    spec = os.path.join(HERE, "specs", "fig1a_linear_alignment.yaml")
    quick = {"data.dim": 50, "data.source.samples": 200, "data.target.samples": 25,
             "data.test.samples": 500, "source.time": 5, "target.time": 5} if args.quick else {}
    alignments = "linspace(0, 1, 5)" if args.quick else "linspace(0, 1, 11)"
    # the spec's own sweep block crosses alignment with target.elastic in {0, 0.5}
    rows = akt.sweep(spec, {"data.alignment": alignments}, **quick)
    if not isinstance(rows, list):
        rows = rows.to_dict("records")           # a pandas DataFrame

    curves = {}                                  # label -> [(alignment, test_loss, mc_error)]
    for row in rows:
        regime, elastic = row["regime"], row["target.elastic"]
        if regime == "source" or (regime != "joint" and elastic != 0):
            continue                             # scratch and readout do not depend on delta
        label = f"joint, delta = {elastic:g}" if regime == "joint" else regime
        curves.setdefault(label, []).append((row["data.alignment"], row["test_loss"]))
    print(f"{'alignment':>9}  " + "  ".join(f"{label:>18}" for label in curves))
    for i, (alignment, _) in enumerate(next(iter(curves.values()))):
        print(f"{alignment:9.2f}  " + "  ".join(f"{c[i][1]:18.6f}" for c in curves.values()))

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: the plot is skipped", file=sys.stderr)
        return 0
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, points in curves.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set_xlabel("alignment (cosine between source and target teachers)")
    ax.set_ylabel("target test loss")
    ax.set_title("Linear teachers, linear network (exact)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
