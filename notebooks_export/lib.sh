# lib.sh: helpers of render.sh that turn akt's CSV and JSON output into plain columns for
# gnuplot and into the numbers quoted in REPORT.md. Sourced, not run. POSIX sh + awk only, so
# that the render needs nothing beyond akt and gnuplot.

# csv_select FILE FILTER COLUMNS
# Prints, space separated and sorted by the first column, the named COLUMNS ("a,b,c") of the rows
# of a CSV with a header whose fields match FILTER ("key=value;key=value"; empty: every row).
# A value matches as text or, when both sides are numbers, numerically (the sweep writes
# linspace values with 17 digits, so 0.1 must match 0.10000000000000001). Empty fields print as
# NaN, which gnuplot skips.
csv_select() {
    awk -F, -v filter="$2" -v cols="$3" '
        function numeric(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
        NR == 1 {
            for (i = 1; i <= NF; i++) col[$i] = i
            nf = (filter == "") ? 0 : split(filter, f, ";")
            nc = split(cols, c, ",")
            for (j = 1; j <= nc; j++)
                if (!(c[j] in col)) { print "csv_select: no column " c[j] > "/dev/stderr"; exit 2 }
            for (j = 1; j <= nf; j++) {
                split(f[j], kv, "="); fkey[j] = kv[1]; fval[j] = kv[2]
                if (!(fkey[j] in col)) { print "csv_select: no column " fkey[j] > "/dev/stderr"; exit 2 }
            }
            next
        }
        {
            for (j = 1; j <= nf; j++) {
                v = $(col[fkey[j]])
                if (v != fval[j] && !(numeric(v) && numeric(fval[j]) && v + 0 == fval[j] + 0)) next
            }
            line = ""
            for (j = 1; j <= nc; j++) {
                v = $(col[c[j]]); if (v == "") v = "NaN"
                line = line (j > 1 ? " " : "") v
            }
            print line
        }' "$1" | sort -g -k1,1
}

# csv_count FILE FILTER: how many rows match FILTER.
csv_count() {
    csv_select "$1" "$2" "$(head -n 1 "$1" | cut -d, -f1)" | wc -l | tr -d ' '
}

# value_at FILE FILTER COLUMN: the COLUMN of the first matching row ("NaN" when none).
value_at() {
    v=$(csv_select "$1" "$2" "$3" | head -n 1)
    echo "${v:-NaN}"
}

# fmt NUMBER [DIGITS]: a number for prose, DIGITS significant digits (default 3).
fmt() {
    awk -v x="$1" -v d="${2:-3}" 'BEGIN { if (x == "NaN" || x == "") print "n/a"; else printf "%.*g\n", d, x }'
}

# crossing: reads "x y" lines sorted by x and prints the first x where y turns from <= 0 to > 0,
# by linear interpolation ("none" if y never turns positive, "below" if it is positive from the
# first point on).
crossing() {
    awk 'NR == 1 { if ($2 > 0) { print "below"; done = 1; exit } px = $1; py = $2; next }
         { if (py <= 0 && $2 > 0) { printf "%.3g\n", px + (0 - py) * ($1 - px) / ($2 - py); done = 1; exit }
           px = $1; py = $2 }
         END { if (!done) print "none" }'
}

# compare_json_to_csv: reads one `akt compare --json` object on stdin, prints CSV rows
# "regime,width,inv_width,test_loss_mean,test_loss_se,test_loss_sd,seeds,euler_bias,theory,
# mc_error,fit_slope,fit_intercept,fit_intercept_error,compatible,theory_error" (no header), one
# per regime and width (theory_error: the theory's total error). The JSON is flat enough (DESIGN.md output contract) to split at its objects.
compare_json_to_csv() {
    sed -e 's/{"regime"/\n{"regime"/g' -e 's/{"width"/\n{"width"/g' -e 's/"fit"/\n"fit"/g' \
        -e 's/"spec"/\n"spec"/g' |
    awk '
        function field(name,   m) {
            if (!match($0, "\"" name "\": [^,}]*")) return ""
            m = substr($0, RSTART, RLENGTH); sub(/^[^:]*: /, "", m); gsub(/"/, "", m)
            return m == "null" ? "" : m
        }
        /^\{"regime"/ { flush(); regime = field("regime"); theory = field("test_loss"); mc = field("mc_error"); terr = field("error"); n = 0 }
        /^\{"width"/  { n++; w[n] = field("width"); mean[n] = field("test_loss_mean"); se[n] = field("test_loss_se")
                        sd[n] = field("test_loss_sd"); seeds[n] = field("seeds"); bias[n] = field("euler_bias") }
        /^"fit"/      { slope = field("slope"); icpt = field("intercept"); icpterr = field("intercept_error"); comp = field("compatible") }
        function flush(   i) {
            for (i = 1; i <= n; i++)
                printf "%s,%s,%.10g,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", regime, w[i], 1 / w[i], mean[i], se[i], sd[i],
                       seeds[i], bias[i], theory, mc, slope, icpt, icpterr, comp, terr
            n = 0
        }
        END { flush() }'
}

COMPARE_HEADER="regime,width,inv_width,test_loss_mean,test_loss_se,test_loss_sd,seeds,euler_bias,theory,mc_error,fit_slope,fit_intercept,fit_intercept_error,compatible,theory_error"
