#!/bin/sh
# check_render.sh AKT: the CI check of the figure export (tests/render/meson.build). Runs
# render.sh --quick with the given akt binary into a fresh temporary directory and checks that
# every figure's PNG and CSV exists and is non-empty, that every PNG is a PNG, that the CSVs have
# data rows, and that REPORT.md has every figure's section and image. Exit 77 (skip) without
# gnuplot, 1 on any missing piece.
set -eu
[ $# -eq 1 ] || { echo "usage: check_render.sh AKT" >&2; exit 2; }
command -v gnuplot >/dev/null 2>&1 || { echo "gnuplot not installed: skipping" >&2; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/akt-render-check.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
AKT=$1 "$HERE/render.sh" --quick "$dir" >/dev/null
fail=0
PNGS="fig1_alignment.png fig2_samples.png fig3_benefit_map.png fig4_width.png fig5_fashion.png
      fig6_fashion_rich.png fig7_relu_width.png fig8_relu_pull.png fig9_retention.png"
for f in $PNGS; do
    if [ ! -s "$dir/$f" ] || [ "$(head -c 4 "$dir/$f" | od -An -c | tr -d ' ')" != "211PNG" ]; then
        echo "missing, empty or not a PNG: $f" >&2; fail=1
    fi
done
for f in fig1a_linear_alignment.csv fig1b_relu_alignment.csv fig2_samples.csv fig3_benefit_map.csv \
         fig4_width.csv fig5_fashion_theory.csv fig5_fashion_networks.csv fig6_fashion_rich.csv \
         fig7_relu_width.csv fig8_relu_pull.csv; do
    rows=$( [ -s "$dir/$f" ] && wc -l <"$dir/$f" || echo 0)
    if [ "$rows" -lt 2 ]; then echo "missing or without data rows: $f" >&2; fail=1; fi
done
for n in 1 2 3 4 5 6 7 8 9; do
    grep -q "^## Figure $n:" "$dir/REPORT.md" || { echo "REPORT.md lacks Figure $n" >&2; fail=1; }
done
for f in $PNGS; do
    grep -q "($f)" "$dir/REPORT.md" || { echo "REPORT.md does not show $f" >&2; fail=1; }
done
if grep -q "n/a\|NaN" "$dir/REPORT.md"; then echo "REPORT.md quotes a missing number" >&2; fail=1; fi
exit $fail
