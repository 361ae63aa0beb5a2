#!/bin/sh
# render.sh: regenerates every figure of notebooks_export/ from the akt binary: each figure's
# numbers come from `akt sweep` / `akt compare` on the specs in specs/, are saved as CSV beside
# the figure, plotted to PNG with gnuplot, and quoted in REPORT.md, whose sentences are filled in
# from those CSVs (so the prose cannot drift from the numbers).
#
#   notebooks_export/render.sh                  full settings (the specs as written), writes here
#   notebooks_export/render.sh --quick [DIR]    reduced grids, a few minutes, into DIR or a fresh
#                                               temporary directory (CI: checks the render runs)
#   options: --out DIR        write into DIR instead
#            --resume         keep finished sweep points of existing CSVs (akt sweep resumes)
#            --reduced        the committed run of this version: the specs as written except
#                             figure 5's networks, trained at width 16 instead of 256 (the
#                             finite-width Fashion-MNIST training did not fit the time on the
#                             loaded shared 2-core machine); REPORT.md says what was reduced
#            --only LIST      comma-separated figures to recompute (1a,1b,2,3,4,5,6,7,8; 8 also
#                             feeds figure 9); the others' CSVs are reused from the output
#                             directory; plots and report are always remade from whatever CSVs
#                             are there
# The akt binary: $AKT, else ./build/src/akt from the repository root. Needs gnuplot (Debian
# gnuplot-nox); installs nothing. Exit 0 on success, 3 if gnuplot or akt is missing, else the
# failing command's status.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
. "$HERE/lib.sh"

quick=0 out="" resume=0 reduced=0 only="1a,1b,2,3,4,5,6,7,8" REDUCED_NOTE=""
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1
                 if [ $# -gt 1 ] && [ "${2#-}" = "$2" ]; then out=$2; shift; fi ;;
        --out) out=$2; shift ;;
        --resume) resume=1 ;;
        --reduced) reduced=1 ;;
        --only) only=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "render.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

AKT=${AKT:-$ROOT/build/src/akt}
# Each akt run is a small problem; OpenBLAS's thread pool then only contends with itself and with
# whatever else runs (measured on the shared 2-core machine: one akt compare took 162 s wall for
# 3 s of CPU with the default threads, 8 s with one thread). The caller may still override it.
OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OPENBLAS_NUM_THREADS
[ -x "$AKT" ] || { echo "render.sh: no akt binary at $AKT (build it, or set AKT)" >&2; exit 3; }
command -v gnuplot >/dev/null 2>&1 ||
    { echo "render.sh: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2; exit 3; }
if [ -z "$out" ]; then
    if [ $quick = 1 ]; then out=$(mktemp -d "${TMPDIR:-/tmp}/akt-render.XXXXXX"); else out=$HERE; fi
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
SPECS=$HERE/specs
GP=$HERE/gnuplot
WORK=$(mktemp -d "${TMPDIR:-/tmp}/akt-render-work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
    TERM_SPEC="pngcairo enhanced font 'Sans,11' linewidth 1.5"
else
    TERM_SPEC="png enhanced font 'Sans,11' linewidth 1.5"
fi

wanted() { case ",$only," in *,"$1",*) return 0 ;; *) return 1 ;; esac; }
now() { date +%s; }
log() { echo "render.sh: $*" >&2; }

# sweep NAME SPEC [--set ...]: akt sweep into $out/NAME.csv (fresh unless --resume).
sweep() {
    name=$1 spec=$2; shift 2
    [ $resume = 1 ] || rm -f "$out/$name.csv"
    log "$name: akt sweep $spec $*"
    t0=$(now)
    "$AKT" sweep "$SPECS/$spec" --out "$out/$name.csv" "$@" </dev/null
    log "$name: $(($(now) - t0)) s"
}

# compare NAME SPEC WIDTHS SEEDS LABEL [--set ...]: akt compare --json, appended as CSV rows
# (COMPARE_HEADER preceded by a LABEL column, e.g. the target sample count) to $WORK/NAME.csv.
compare() {
    name=$1 spec=$2 widths=$3 seeds=$4 label=$5; shift 5
    log "$name: akt compare $spec --widths $widths --seeds $seeds $*"
    t0=$(now)
    "$AKT" compare "$SPECS/$spec" --widths "$widths" --seeds "$seeds" --json "$@" </dev/null |
        compare_json_to_csv | sed "s/^/$label,/" >>"$WORK/$name.csv"
    log "$name: $(($(now) - t0)) s"
}

# compare_per_p2 NAME SPEC WIDTHS SEEDS "P2 ..." [--set ...]: one compare per target sample count
# into $out/NAME.csv, each row labelled with its P2.
compare_per_p2() {
    name=$1 spec=$2 widths=$3 seeds=$4 p2s=$5; shift 5
    echo "target_samples,$COMPARE_HEADER" >"$WORK/$name.csv"
    for p2 in $p2s; do
        compare "$name" "$spec" "$widths" "$seeds" "$p2" --set "data.target.samples=$p2" "$@"
    done
    mv "$WORK/$name.csv" "$out/$name.csv"
}

# plot SCRIPT [name=value ...]: runs gnuplot/SCRIPT with the terminal, directories and values.
plot() {
    script=$1; shift
    defs="term=\"$TERM_SPEC\"; dir=\"$out\"; work=\"$WORK\"; gp=\"$GP\""
    for d in "$@"; do defs="$defs; ${d%%=*}=\"${d#*=}\""; done
    gnuplot -e "$defs" "$GP/$script"
}

# ---- the grids: full settings are the specs; --quick shrinks them on the command line ---------
if [ $quick = 1 ]; then
    Q1A="--set data.dim=20 --set data.source.samples=80 --set data.target.samples=10 --set data.test.samples=500 --set data.alignment=0,0.5,1"
    Q1B="--set data.dim=8 --set data.source.samples=16 --set data.target.samples=8 --set data.test.samples=100 --set solver.neurons=16 --set solver.replicas=2 --set source.time=2 --set target.time=2 --set data.alignment=0,1"
    Q2="--set data.dim=20 --set data.test.samples=500 --set data.source.samples=10,40 --set data.target.samples=4,10,20,40"
    Q3="--set data.dim=20 --set data.source.samples=80 --set data.target.samples=10 --set data.test.samples=500 --set source.gamma=logspace(-1,1,3) --set data.alignment=0,0.5,1"
    Q4="--set data.dim=20 --set data.source.samples=80 --set data.target.samples=10 --set data.test.samples=500"
    W4="16,32" S4=2
    Q5="--set data.source.samples=50 --set data.test.samples=100 --set data.target.samples=10,40"
    P5NET="10" W5=16 S5=2 Q5NET="--set data.source.samples=50 --set data.test.samples=100"
    Q5POP="--set solver.neurons=16 --set solver.replicas=2 --set source.time=2 --set target.time=2"
    P6="10 20" W6="8,16" S6=2
    Q6="--set data.source.samples=30 --set data.test.samples=60 --set solver.neurons=16 --set solver.replicas=2 --set source.time=1 --set target.time=1"
    W7="8,16" S7=2
    Q7="--set data.dim=8 --set data.source.samples=16 --set data.target.samples=8 --set data.test.samples=100 --set solver.neurons=32 --set solver.replicas=2 --set source.time=2 --set target.time=2"
    Q8="--set data.dim=8 --set data.source.samples=16 --set data.target.samples=8 --set data.test.samples=100 --set solver.neurons=16 --set solver.replicas=2 --set source.time=2 --set target.time=2 --set target.elastic=0,1 --set data.alignment=0,1"
else
    Q1A="" Q1B="" Q2="" Q3="" Q4="" Q5="" Q5NET=""
    W4="32,64,128,256,512" S4=4
    P5NET="20 50 200" W5=256 S5=2
    Q5POP="--set solver.neurons=512 --set solver.replicas=4"
    P6="10 20 50 100 200" W6="256,1024" S6=2 Q6=""
    W7="64,128,256,512,1024,2048" S7=4 Q7=""
    Q8=""
    if [ $reduced = 1 ]; then
        W5=16
        REDUCED_NOTE="figures 1 to 4 and figure 5's lazy-limit theory are at the full settings of their specs; figure 5's finite-width networks are width 16 (2 seeds at P2 = 20, 50 and 200) instead of the full run's width 256: on the loaded shared 2-core machine one width-16 seed of the Fashion-MNIST training took 56 s of CPU (9 minutes of wall time), and one width-256 seed (P2 = 20) had not finished after 38 minutes (8 CPU-minutes). Width 16 is far from the lazy limit (the networks lie 0.07 to 1 above the theory, with seed scatter of the same size), so figure 5 shows where small networks stand, not convergence with width (figure 4 checks that). The akt commands of render.sh were run concurrently, one process each, and the plots and this report made from their CSVs by \`render.sh --reduced --only none\`."
    fi
fi

start=$(now)
# shellcheck disable=SC2086  # the Q* strings are lists of arguments on purpose
{
    if wanted 1a; then sweep fig1a_linear_alignment fig1a_linear_alignment.yaml $Q1A; fi
    if wanted 1b; then sweep fig1b_relu_alignment fig1b_relu_alignment.yaml $Q1B; fi
    if wanted 2; then sweep fig2_samples fig2_samples.yaml $Q2; fi
    if wanted 3; then sweep fig3_benefit_map fig3_benefit_map.yaml $Q3; fi
    if wanted 4; then
        echo "target_samples,$COMPARE_HEADER" >"$WORK/fig4_width.csv"
        compare fig4_width fig4_width.yaml "$W4" "$S4" default $Q4
        mv "$WORK/fig4_width.csv" "$out/fig4_width.csv"
    fi
    if wanted 5; then
        sweep fig5_fashion_theory fig5_fashion.yaml $Q5
        # the theory at the networks' own gamma (the population method), beside the lazy limit
        sweep fig5_fashion_population fig5_fashion.yaml --set solver.method=population $Q5 $Q5POP
        compare_per_p2 fig5_fashion_networks fig5_fashion.yaml "$W5" "$S5" "$P5NET" $Q5NET
    fi
    if wanted 6; then
        # theory and networks of two widths at each P2
        compare_per_p2 fig6_fashion_rich fig6_fashion_rich.yaml "$W6" "$S6" "$P6" $Q6
    fi
    if wanted 7; then
        echo "target_samples,$COMPARE_HEADER" >"$WORK/fig7_relu_width.csv"
        compare fig7_relu_width fig7_relu_width.yaml "$W7" "$S7" default $Q7
        mv "$WORK/fig7_relu_width.csv" "$out/fig7_relu_width.csv"
    fi
    if wanted 8; then sweep fig8_relu_pull fig8_relu_pull.yaml $Q8; fi
}
log "data: $(($(now) - start)) s"

# ---- plots ------------------------------------------------------------------------------------
prepare_fig1() {
    csv=$out/$1.csv tag=$2
    csv_select "$csv" "regime=scratch;target.elastic=0" data.alignment,test_loss,error >"$WORK/${tag}_scratch.dat"
    csv_select "$csv" "regime=readout;target.elastic=0" data.alignment,test_loss,error >"$WORK/${tag}_readout.dat"
    csv_select "$csv" "regime=joint;target.elastic=0.5" data.alignment,test_loss,error >"$WORK/${tag}_joint_elastic.dat"
    csv_select "$csv" "regime=joint;target.elastic=0" data.alignment,test_loss,error >"$WORK/${tag}_joint_free.dat"
}
have() { for f in "$@"; do [ -s "$out/$f.csv" ] || { log "no $f.csv in $out: its figure is skipped"; return 1; }; done; }
if have fig1a_linear_alignment fig1b_relu_alignment; then
prepare_fig1 fig1a_linear_alignment lin
prepare_fig1 fig1b_relu_alignment relu
plot fig1.gp
fi

DIM2=$(echo "$Q2" | sed -n 's/.*data\.dim=\([0-9]*\).*/\1/p')
DIM2=${DIM2:-$(awk '$1 == "dim:" {print $2}' "$SPECS/fig2_samples.yaml")}
if have fig2_samples; then
for p1 in $(csv_select "$out/fig2_samples.csv" "regime=joint" data.source.samples | uniq); do
    csv_select "$out/fig2_samples.csv" "regime=joint;data.source.samples=$p1" data.target.samples,test_loss >"$WORK/fig2_joint_$p1.dat"
    csv_select "$out/fig2_samples.csv" "regime=readout;data.source.samples=$p1" data.target.samples,test_loss >"$WORK/fig2_readout_$p1.dat"
done
P1_LIST=$(csv_select "$out/fig2_samples.csv" "regime=joint" data.source.samples | uniq | tr '\n' ' ')
P1_FIRST=$(echo "$P1_LIST" | awk '{print $1}')
csv_select "$out/fig2_samples.csv" "regime=scratch;data.source.samples=$P1_FIRST" data.target.samples,test_loss >"$WORK/fig2_scratch.dat"
plot fig2.gp p1list="$P1_LIST" dim="$DIM2"
fi

if have fig3_benefit_map; then
# fig 3: a grid in gnuplot's scan format (a blank line after each gamma1).
csv_select "$out/fig3_benefit_map.csv" "regime=joint" source.gamma,data.alignment,transfer_benefit |
    sort -g -k1,1 -k2,2 | awk 'NR > 1 && $1 != last { print "" } { print; last = $1 }' >"$WORK/fig3_map.dat"
B3MAX=$(awk 'NF { if ($3 > m) m = $3 } END { printf "%.6g", (m > 0 ? m : 1) }' "$WORK/fig3_map.dat")
B3MIN=$(awk 'NF { if ($3 < m) m = $3 } END { printf "%.6g", m }' "$WORK/fig3_map.dat")
plot fig3.gp bmax="$B3MAX" bmin="$B3MIN"
fi

# width_plot NAME CAPTION: figure 4's plot of a compare CSV (networks against 1/N, fit, theory).
width_plot() {
    for r in scratch readout joint; do
        csv_select "$out/$1.csv" "regime=$r" inv_width,test_loss_mean,test_loss_se,theory,fit_slope,fit_intercept,fit_intercept_error,theory_error >"$WORK/$1_$r.dat"
    done
    plot fig4.gp name="$1" caption="$2"
}
if have fig4_width; then
width_plot fig4_width "theory (1/N = 0) against finite-width linear networks"
fi
if have fig7_relu_width; then
width_plot fig7_relu_width "relu: population theory (1/N = 0, total error) against finite-width networks"
fi

if have fig6_fashion_rich; then
for r in scratch readout joint; do
    csv_select "$out/fig6_fashion_rich.csv" "regime=$r" target_samples,theory,theory_error | uniq >"$WORK/fig6_theory_$r.dat"
    csv_select "$out/fig6_fashion_rich.csv" "regime=$r" target_samples,fit_intercept,fit_intercept_error | uniq >"$WORK/fig6_fit_$r.dat"
    for w in $(csv_select "$out/fig6_fashion_rich.csv" "regime=$r" width | sort -n | uniq); do
        csv_select "$out/fig6_fashion_rich.csv" "regime=$r;width=$w" target_samples,test_loss_mean,test_loss_se >"$WORK/fig6_net_${r}_$w.dat"
    done
done
W6_SHOWN=$(csv_select "$out/fig6_fashion_rich.csv" "regime=joint" width | sort -n | uniq | tr '\n' ' ' | sed 's/ $//')
plot fig6.gp widths="$W6_SHOWN"
fi

if have fig8_relu_pull; then
# figure 8: the joint regime's benefit over scratch with the two errors added in quadrature
csv_select "$out/fig8_relu_pull.csv" "regime=scratch" target.elastic,data.alignment,error >"$WORK/fig8_scratch_error.dat"
D8_LIST=$(csv_select "$out/fig8_relu_pull.csv" "regime=joint" target.elastic | sort -g | uniq | tr '\n' ' ' | sed 's/ $//')
for d in $D8_LIST; do
    csv_select "$out/fig8_relu_pull.csv" "regime=joint;target.elastic=$d" data.alignment,transfer_benefit,error |
        awk -v d="$d" 'NR == FNR { if ($1 == d) e[$2] = $3; next }
                       { print $1, $2, sqrt($3 * $3 + e[$1] * e[$1]) }' "$WORK/fig8_scratch_error.dat" - >"$WORK/fig8_benefit_$d.dat"
    csv_select "$out/fig8_relu_pull.csv" "regime=joint;target.elastic=$d" data.alignment,retention,retention_error,hidden_distance,hidden_distance_error,source_test_loss,source_test_loss_error >"$WORK/fig9_joint_$d.dat"
done
D8_FIRST=$(echo "$D8_LIST" | awk '{print $1}')
csv_select "$out/fig8_relu_pull.csv" "regime=scratch;target.elastic=$D8_FIRST" data.alignment,retention,retention_error >"$WORK/fig9_scratch.dat"
csv_select "$out/fig8_relu_pull.csv" "regime=source;target.elastic=$D8_FIRST" data.alignment,test_loss,error >"$WORK/fig9_source.dat"
plot fig8.gp deltas="$D8_LIST"
plot fig9.gp deltas="$D8_LIST"
fi

if have fig5_fashion_theory fig5_fashion_networks; then
for r in scratch readout joint; do
    csv_select "$out/fig5_fashion_theory.csv" "regime=$r" data.target.samples,test_loss >"$WORK/fig5_theory_$r.dat"
    csv_select "$out/fig5_fashion_networks.csv" "regime=$r" target_samples,test_loss_mean,test_loss_se,width >"$WORK/fig5_net_$r.dat"
    if [ -s "$out/fig5_fashion_population.csv" ]; then
        csv_select "$out/fig5_fashion_population.csv" "regime=$r" data.target.samples,test_loss,error >"$WORK/fig5_population_$r.dat"
    else
        : >"$WORK/fig5_population_$r.dat"
    fi
done
W5_SHOWN=$(awk 'NR == 1 {print $4}' "$WORK/fig5_net_joint.dat")
plot fig5.gp width="${W5_SHOWN:-?}"
fi

# ---- report -----------------------------------------------------------------------------------
. "$HERE/report.sh"
write_report >"$out/REPORT.md"
log "done in $(($(now) - start)) s: $out"
echo "$out"
