#!/bin/sh
# plot_trajectory.sh: one command from a trajectory CSV (spec key output.trajectory) to a PNG.
#
#   notebooks_export/plot_trajectory.sh TRAJECTORY.csv [OUT.png] [--observables a,b,...]
#                                       [--data DIR]
#
# Left panel: the test loss against flow time (log-log) per regime. Right panel: the chosen
# observables (default ntk_alignment_train,retention,feature_learning; any column of the CSV
# after test_loss, README "Observables") against time per regime. Both are means over the
# replicas: a population's replicas take their own adaptive steps, so each replica is
# interpolated linearly at the times of the lowest-numbered replica (every replica starts at 0
# and ends at the phase time, so the ends are exact); an observable missing (empty) in some
# replicas is the mean of the others, and a series with no value at all is left out. Time 0 is
# not drawn (log axis). OUT defaults to TRAJECTORY with .png for .csv. --data DIR also keeps the
# averaged columns gnuplot drew, DIR/trajectory_REGIME.dat: "t test_loss obs1 obs2 ..." (NaN:
# missing). Needs gnuplot (Debian gnuplot-nox). Exit 0 and the PNG's path on stdout; 2 on a bad
# argument or a file that is not a trajectory; 3 without gnuplot.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
usage() { sed -n '4,6p' "$0" | sed 's/^# *//' >&2; exit 2; }
die() { echo "plot_trajectory.sh: $*" >&2; exit "${2:-2}"; }

csv="" png="" observables="ntk_alignment_train,retention,feature_learning" keep=""
while [ $# -gt 0 ]; do
    case $1 in
        --observables) [ $# -gt 1 ] || usage; observables=$2; shift ;;
        --observables=*) observables=${1#*=} ;;
        --data) [ $# -gt 1 ] || usage; keep=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) if [ -z "$csv" ]; then csv=$1; elif [ -z "$png" ]; then png=$1; else usage; fi ;;
    esac
    shift
done
[ -n "$csv" ] || usage
[ -r "$csv" ] || die "cannot read $csv"
[ -n "$png" ] || png="${csv%.csv}.png"
command -v gnuplot >/dev/null 2>&1 || die "gnuplot not found (Debian: apt-get install gnuplot-nox)" 3

header=$(head -n 1 "$csv")
case $header in
    regime,replica,time,train_loss,test_loss*) ;;
    *) die "$csv: not a trajectory of output.trajectory (header '$header')" ;;
esac
for name in $(echo "$observables" | tr ',' ' '); do
    case ",$header," in
        *",$name,"*) [ "$name" != regime ] && [ "$name" != replica ] && [ "$name" != time ] ||
                         die "--observables: '$name' is not an observable" ;;
        *) die "--observables: no column '$name' in $csv (it has: ${header#*test_loss,})" ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/akt-trajectory.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# The replica means per regime into $work/trajectory_REGIME.dat; prints the regimes in file order.
awk -F, -v cols="test_loss,$observables" -v dir="$work" '
    NR == 1 { for (i = 1; i <= NF; i++) at[$i] = i; nc = split(cols, c, ","); next }
    {
        r = $1; k = $2 + 0
        if (!(r in seen)) { seen[r] = 1; order[++nr] = r; first[r] = k }
        if (k < first[r]) first[r] = k
        if (!((r, k) in rows)) { rows[r, k] = 0; reps[r] = reps[r] " " k }
        i = ++rows[r, k]
        T[r, k, i] = $3 + 0
        for (j = 1; j <= nc; j++) V[r, k, i, j] = $(at[c[j]])
    }
    # replica k of regime r at time x, column j, linearly interpolated ("" where missing)
    function value(r, k, x, j,    i, n, a, b, w) {
        n = rows[r, k]
        for (i = 1; i < n && T[r, k, i + 1] < x; i++) ;
        if (i == n || T[r, k, i] >= x) return V[r, k, i, j]
        a = V[r, k, i, j]; b = V[r, k, i + 1, j]
        if (a == "" || b == "") return ""
        w = (x - T[r, k, i]) / (T[r, k, i + 1] - T[r, k, i])
        return (1 - w) * a + w * b
    }
    END {
        for (q = 1; q <= nr; q++) {
            r = order[q]; base = first[r]; file = dir "/trajectory_" r ".dat"
            nk = split(reps[r], ks, " ")
            for (i = 1; i <= rows[r, base]; i++) {
                x = T[r, base, i]
                if (x <= 0) continue
                line = sprintf("%.17g", x)
                for (j = 1; j <= nc; j++) {
                    sum = 0; count = 0
                    for (m = 1; m <= nk; m++) {
                        v = value(r, ks[m], x, j)
                        if (v != "") { sum += v; count++ }
                    }
                    line = line " " (count ? sprintf("%.17g", sum / count) : "NaN")
                }
                print line > file
            }
            close(file)
            print r
        }
    }' "$csv" >"$work/regimes"
regimes=$(tr '\n' ' ' <"$work/regimes")
[ -n "$regimes" ] || die "$csv: no rows"

# The series of the right panel that have at least one value: regime, column, observable.
series_regimes="" series_columns="" series_names=""
for regime in $regimes; do
    column=3
    for name in $(echo "$observables" | tr ',' ' '); do
        if awk -v c=$column '$c != "NaN" { found = 1 } END { exit !found }' \
               "$work/trajectory_$regime.dat"; then
            series_regimes="$series_regimes $regime"
            series_columns="$series_columns $column"
            series_names="$series_names $name"
        fi
        column=$((column + 1))
    done
done

if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
    term="pngcairo enhanced font 'Sans,11' linewidth 1.5"
else
    term="png enhanced font 'Sans,11' linewidth 1.5"
fi
gnuplot -e "term=\"$term\"; gp=\"$HERE/gnuplot\"; work=\"$work\"; out=\"$png\";
            regimes=\"$regimes\"; sregimes=\"$series_regimes\"; scolumns=\"$series_columns\";
            snames=\"$series_names\"; observables=\"$(echo "$observables" | tr ',' ' ')\"" \
        "$HERE/gnuplot/trajectory.gp"
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp "$work"/trajectory_*.dat "$keep"/
fi
echo "$png"
