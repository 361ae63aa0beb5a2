# report.sh: writes REPORT.md from the figures' CSVs (sourced by render.sh after the plots; uses
# $out, $WORK, $quick, $reduced and lib.sh). Every number in the prose is read from a CSV.

# where_positive X: prose for a crossing() result.
where_positive() {
    case $1 in
        below) echo "at every alignment of the grid" ;;
        none) echo "at no alignment of the grid" ;;
        *) echo "above alignment $1" ;;
    esac
}

# fig1_sentences CSV: the two sentences of one panel of figure 1.
fig1_sentences() {
    csv=$1
    amin=$(csv_select "$csv" "regime=scratch" data.alignment | head -n 1)
    amax=$(csv_select "$csv" "regime=scratch" data.alignment | tail -n 1)
    s0=$(value_at "$csv" "regime=scratch;target.elastic=0;data.alignment=$amin" test_loss)
    r0=$(value_at "$csv" "regime=readout;target.elastic=0;data.alignment=$amin" test_loss)
    je0=$(value_at "$csv" "regime=joint;target.elastic=0.5;data.alignment=$amin" test_loss)
    jf0=$(value_at "$csv" "regime=joint;target.elastic=0;data.alignment=$amin" test_loss)
    s1=$(value_at "$csv" "regime=scratch;target.elastic=0;data.alignment=$amax" test_loss)
    r1=$(value_at "$csv" "regime=readout;target.elastic=0;data.alignment=$amax" test_loss)
    je1=$(value_at "$csv" "regime=joint;target.elastic=0.5;data.alignment=$amax" test_loss)
    jf1=$(value_at "$csv" "regime=joint;target.elastic=0;data.alignment=$amax" test_loss)
    xr=$(csv_select "$csv" "regime=readout;target.elastic=0" data.alignment,transfer_benefit | crossing)
    xe=$(csv_select "$csv" "regime=joint;target.elastic=0.5" data.alignment,transfer_benefit | crossing)
    xf=$(csv_select "$csv" "regime=joint;target.elastic=0" data.alignment,transfer_benefit | crossing)
    mc=$(csv_select "$csv" "" error | awk '$1 != "NaN" && $1 > m { m = $1 } END { if (m > 0) printf "%.2g", m }')
    printf 'At alignment %s the transferred regimes give test loss %s (readout), %s (joint, delta 0.5) and %s (joint, delta 0) against %s from scratch, ' \
        "$(fmt "$amin")" "$(fmt "$r0")" "$(fmt "$je0")" "$(fmt "$jf0")" "$(fmt "$s0")"
    printf 'and at alignment %s they give %s, %s and %s against %s. ' \
        "$(fmt "$amax")" "$(fmt "$r1")" "$(fmt "$je1")" "$(fmt "$jf1")" "$(fmt "$s1")"
    printf 'Transfer beats scratch (benefit > 0) %s for the readout, %s for the joint regime with elastic pull and %s without it (zero crossings interpolated linearly between grid points)' \
        "$(where_positive "$xr")" "$(where_positive "$xe")" "$(where_positive "$xf")"
    if [ -n "$mc" ]; then printf '; the largest error (sqrt(mc^2 + integration^2) + |bias|) is %s' "$mc"; fi
    unconverged=$(csv_select "$csv" "converged=false" regime,target.elastic,data.alignment |
        awk '{ printf "%s%s (delta %s) at alignment %s", (NR > 1 ? ", " : ""), $1, $2, $3 }')
    if [ -n "$unconverged" ]; then
        printf '. Not converged (converged = false, plotted as reached): %s.\n' "$unconverged"
    else
        printf '.\n'
    fi
}

fig2_sentences() {
    csv=$out/fig2_samples.csv
    p2min=$(csv_select "$csv" "regime=scratch" data.target.samples | head -n 1)
    p2max=$(csv_select "$csv" "regime=scratch" data.target.samples | tail -n 1)
    p1min=$(echo "$P1_LIST" | awk '{print $1}')
    p1max=$(echo "$P1_LIST" | awk '{print $NF}')
    s_lo=$(value_at "$csv" "regime=scratch;data.source.samples=$p1min;data.target.samples=$p2min" test_loss)
    s_hi=$(value_at "$csv" "regime=scratch;data.source.samples=$p1min;data.target.samples=$p2max" test_loss)
    jlo_min=$(value_at "$csv" "regime=joint;data.source.samples=$p1min;data.target.samples=$p2min" test_loss)
    jlo_max=$(value_at "$csv" "regime=joint;data.source.samples=$p1max;data.target.samples=$p2min" test_loss)
    rlo_max=$(value_at "$csv" "regime=readout;data.source.samples=$p1max;data.target.samples=$p2min" test_loss)
    bhi=$(value_at "$csv" "regime=joint;data.source.samples=$p1max;data.target.samples=$p2max" transfer_benefit)
    rhi=$(value_at "$csv" "regime=readout;data.source.samples=$p1max;data.target.samples=$p2max" transfer_benefit)
    printf 'With the fewest target samples (nu2 = %s) scratch reaches test loss %s, while transferring from nu1 = %s source samples gives %s (joint) and %s (readout), and from nu1 = %s gives %s (joint): %s. ' \
        "$(fmt "$(awk -v p="$p2min" -v d="$DIM2" 'BEGIN{print p/d}')")" "$(fmt "$s_lo")" \
        "$(fmt "$(awk -v p="$p1max" -v d="$DIM2" 'BEGIN{print p/d}')")" "$(fmt "$jlo_max")" "$(fmt "$rlo_max")" \
        "$(fmt "$(awk -v p="$p1min" -v d="$DIM2" 'BEGIN{print p/d}')")" "$(fmt "$jlo_min")" \
        "$(awk -v s="$s_lo" -v j="$jlo_max" -v b="$bhi" 'BEGIN { if (s - j > b) print "more source data helps most where target data are scarce"; else print "the benefit does not shrink with more target data here" }')"
    printf 'At nu2 = %s scratch has come down to %s and the benefit of the best-informed source (nu1 = %s) is %s for the joint regime and %s for the readout.\n' \
        "$(fmt "$(awk -v p="$p2max" -v d="$DIM2" 'BEGIN{print p/d}')")" "$(fmt "$s_hi")" \
        "$(fmt "$(awk -v p="$p1max" -v d="$DIM2" 'BEGIN{print p/d}')")" "$(fmt "$bhi")" "$(fmt "$rhi")"
}

fig3_sentences() {
    awk 'NF {
            n++; if ($3 < 0) { neg++; if ($2 > amaxneg) amaxneg = $2 }
            if (n == 1 || $3 > best) { best = $3; bg = $1; ba = $2 }
            if (n == 1 || $3 < worst) { worst = $3; wg = $1; wa = $2 }
         }
         END {
            printf "Transfer hurts (benefit < 0, red) at %d of the %d grid points, all at alignment %s %.3g or below, ", neg, n, "", amaxneg
            printf "and it is most negative (%.3g) at gamma1 = %.3g, alignment %.3g; ", worst, wg, wa
            printf "the largest benefit is %.3g at gamma1 = %.3g, alignment %.3g. ", best, bg, ba
         }' "$WORK/fig3_map.dat" | sed 's/alignment  /alignment /'
    g_lo=$(awk 'NF {print $1; exit}' "$WORK/fig3_map.dat")
    g_hi=$(awk 'NF {g = $1} END {print g}' "$WORK/fig3_map.dat")
    x_lo=$(awk -v g="$g_lo" 'NF && $1 == g {print $2, $3}' "$WORK/fig3_map.dat" | crossing)
    x_hi=$(awk -v g="$g_hi" 'NF && $1 == g {print $2, $3}' "$WORK/fig3_map.dat" | crossing)
    printf 'The zero contour (black) separates the two regions: the benefit turns positive above alignment %s at gamma1 = %s and above %s at gamma1 = %s.\n' \
        "$x_lo" "$(fmt "$g_lo")" "$x_hi" "$(fmt "$g_hi")"
}

# fig4_sentences CSV THEORY: the sentences of a theory-against-width figure (4: linear, 7: relu);
# THEORY names the infinite-width value.
fig4_sentences() {
    csv=$1 theory_name=$2
    wmax=$(csv_select "$csv" "regime=joint" width | tail -n 1)
    wmin=$(csv_select "$csv" "regime=joint" width | head -n 1)
    printf 'From width %s to %s the seed-mean test loss of the networks goes ' "$wmin" "$wmax"
    sep="" closer=0
    for r in scratch readout joint; do
        th=$(value_at "$csv" "regime=$r" theory)
        lo=$(value_at "$csv" "regime=$r;width=$wmin" test_loss_mean)
        hi=$(value_at "$csv" "regime=$r;width=$wmax" test_loss_mean)
        se=$(value_at "$csv" "regime=$r;width=$wmax" test_loss_se)
        te=$(value_at "$csv" "regime=$r" theory_error)
        case $te in ""|NaN|0) tshown=$(fmt "$th") ;; *) tshown="$(fmt "$th") +- $(fmt "$te" 2)" ;; esac
        printf '%s%s %s -> %s +- %s (theory %s)' "$sep" "$r" "$(fmt "$lo")" "$(fmt "$hi")" "$(fmt "$se" 2)" "$tshown"
        closer=$((closer + $(awk -v a="$lo" -v b="$hi" -v t="$th" 'BEGIN { d1 = a - t; d2 = b - t; print ((d2 < 0 ? -d2 : d2) < (d1 < 0 ? -d1 : d1)) }')))
        sep="; "
    done
    printf ', so the gap to the %s shrinks in %s of the 3 regimes' "$theory_name" "$closer"
    printf '. The weighted 1/N fit extrapolates to '
    sep=""
    for r in scratch readout joint; do
        ic=$(value_at "$csv" "regime=$r" fit_intercept)
        ie=$(value_at "$csv" "regime=$r" fit_intercept_error)
        co=$(value_at "$csv" "regime=$r" compatible)
        [ "$co" = true ] && co="compatible with the theory" || co="not compatible with the theory"
        printf '%s%s +- %s for %s (%s)' "$sep" "$(fmt "$ic")" "$(fmt "$ie" 2)" "$r" "$co"
        sep=", "
    done
    printf '.\n'
}

fig5_sentences() {
    th=$out/fig5_fashion_theory.csv net=$out/fig5_fashion_networks.csv
    p2min=$(csv_select "$th" "regime=scratch" data.target.samples | head -n 1)
    p2max=$(csv_select "$th" "regime=scratch" data.target.samples | tail -n 1)
    printf 'In the lazy-limit theory the target test loss falls from %s (scratch), %s (readout), %s (joint) at P2 = %s to %s, %s, %s at P2 = %s; ' \
        "$(fmt "$(value_at "$th" "regime=scratch;data.target.samples=$p2min" test_loss)")" \
        "$(fmt "$(value_at "$th" "regime=readout;data.target.samples=$p2min" test_loss)")" \
        "$(fmt "$(value_at "$th" "regime=joint;data.target.samples=$p2min" test_loss)")" "$p2min" \
        "$(fmt "$(value_at "$th" "regime=scratch;data.target.samples=$p2max" test_loss)")" \
        "$(fmt "$(value_at "$th" "regime=readout;data.target.samples=$p2max" test_loss)")" \
        "$(fmt "$(value_at "$th" "regime=joint;data.target.samples=$p2max" test_loss)")" "$p2max"
    best=$(csv_select "$th" "regime=joint" data.target.samples,transfer_benefit | sort -g -k2,2 | tail -n 1)
    bval=$(echo "$best" | awk '{print $2}')
    if awk -v b="$bval" 'BEGIN { exit !(b > 0) }'; then verdict="transfer helps there"
    else verdict="transfer between these class pairs does not help at any P2 of the grid"; fi
    printf 'the joint regime'"'"'s largest benefit over scratch is %s at P2 = %s: %s. ' \
        "$(fmt "$bval")" "$(echo "$best" | awk '{print $1}')" "$verdict"
    if [ "$(csv_count "$net" "")" -gt 0 ]; then
        printf 'Networks of width %s (seed mean +- standard error) at P2 = %s give ' "$W5_SHOWN" \
            "$(csv_select "$net" "regime=joint" target_samples | tr '\n' ' ' | sed 's/ $//; s/ /, /g')"
        sep=""
        for r in scratch readout joint; do
            printf '%s%s %s' "$sep" "$r" "$(csv_select "$net" "regime=$r" target_samples,test_loss_mean,test_loss_se,theory |
                awk '{ printf "%s%.3g +- %.2g (theory %.3g)", (NR > 1 ? ", " : ""), $2, $3, $4 }')"
            sep="; "
        done
        # how far the networks are from the lazy limit, in standard errors and in percent
        csv_select "$net" "" regime,target_samples,test_loss_mean,test_loss_se,theory | awk '
            { gap = ($3 - $5) / $5; if (gap < 0) gap = -gap
              z = $4 > 0 ? ($3 - $5) / $4 : 0; if (z < 0) z = -z
              if (gap > worst) { worst = gap; at = $1 " at P2 = " $2 }
              if (z > 3) far++; n++ }
            END { printf ". The networks differ from the lazy-limit theory by up to %.0f percent (%s); %d of %d values lie more than 3 standard errors from it, so at this width and gamma they are not yet in the lazy limit.", 100 * worst, at, far, n }'
        pop=$out/fig5_fashion_population.csv
        if [ -s "$pop" ]; then
            # the networks against the theory at their own gamma, point by point (regime, P2)
            { csv_select "$pop" "" regime,data.target.samples,test_loss,error | sed 's/^/T /'
              csv_select "$net" "" regime,target_samples,test_loss_mean,test_loss_se | sed 's/^/N /'; } |
            awk '
                $1 == "T" { th[$2 " " $3] = $4; mc[$2 " " $3] = $5; next }
                ($2 " " $3) in th {
                    k = $2 " " $3; gap = ($4 - th[k]) / th[k]; if (gap < 0) gap = -gap
                    err = sqrt($5 * $5 + mc[k] * mc[k]); z = err > 0 ? ($4 - th[k]) / err : 0; if (z < 0) z = -z
                    if (gap > worst) { worst = gap; at = $2 " at P2 = " $3 }
                    if (z > 3) far++; n++ }
                END { if (n) printf " The population theory at the networks'"'"' gamma (open symbols) is within %.0f percent of them at every point (largest: %s); %d of %d values differ by more than 3 combined errors.", 100 * worst, at, far, n }'
            unconverged=$(csv_select "$pop" "converged=false" regime,data.target.samples |
                awk '{ printf "%s%s at P2 = %s", (NR > 1 ? ", " : ""), $1, $2 }')
            [ -z "$unconverged" ] ||
                printf ' Not converged in the population theory (converged = false: the stability test said unstable; plotted as reached): %s.' "$unconverged"
        fi
        printf '\n'
    else
        printf 'No finite-width networks were trained in this run.\n'
    fi
}

fig6_sentences() {
    csv=$out/fig6_fashion_rich.csv
    p2s=$(csv_select "$csv" "regime=joint" target_samples | uniq | tr '\n' ' ' | sed 's/ $//; s/ /, /g')
    printf 'At P2 = %s the population theory (gamma = 1) gives ' "$p2s"
    sep=""
    for r in scratch readout joint; do
        printf '%s%s %s' "$sep" "$r" "$(csv_select "$csv" "regime=$r" target_samples,theory,theory_error | uniq |
            awk '{ printf "%s%.3g +- %.2g", (NR > 1 ? ", " : ""), $2, $3 }')"
        sep="; "
    done
    wmax=$(csv_select "$csv" "" width | sort -n | tail -n 1)
    printf '. The 1/N fit of the networks (widths %s) extrapolates to ' "$W6_SHOWN"
    csv_select "$csv" "width=$wmax" regime,target_samples,fit_intercept,fit_intercept_error,compatible | awk '
        $1 != "source" { n++; printf "%s%s %.3g +- %.2g at P2 = %s", (n > 1 ? ", " : ""), $1, $3, $4, $2; if ($5 == "true") ok++ }
        END { printf "; %d of %d extrapolations are compatible with the theory (within 3 combined errors).\n", ok, n }'
}

fig8_sentences() {
    all=$(for d in $D8_LIST; do awk -v d="$d" '{ print d, $1, $2, $3 }' "$WORK/fig8_benefit_$d.dat"; done)
    best=$(echo "$all" | sort -g -k3,3 | tail -n 1)
    worst=$(echo "$all" | sort -g -k3,3 | head -n 1)
    printf 'The largest benefit of the joint regime over scratch is %s +- %s (delta %s, alignment %s), the smallest %s +- %s (delta %s, alignment %s). ' \
        "$(fmt "$(echo "$best" | awk '{print $3}')")" "$(fmt "$(echo "$best" | awk '{print $4}')" 2)" \
        "$(echo "$best" | awk '{print $1}')" "$(echo "$best" | awk '{print $2}')" \
        "$(fmt "$(echo "$worst" | awk '{print $3}')")" "$(fmt "$(echo "$worst" | awk '{print $4}')" 2)" \
        "$(echo "$worst" | awk '{print $1}')" "$(echo "$worst" | awk '{print $2}')"
    printf 'The best pull at each alignment (its benefit, and by how many combined errors it beats delta = %s): ' "$D8_FIRST"
    echo "$all" | sort -g -k2,2 -k3,3 | awk -v d0="$D8_FIRST" '
        $1 == d0 { b0[$2] = $3; e0[$2] = $4 }
        { best[$2] = $1; bb[$2] = $3; be[$2] = $4; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
        END { for (i = 1; i <= n; i++) { a = order[i]; e = sqrt(be[a] ^ 2 + e0[a] ^ 2)
                  printf "%salignment %s: delta %s (%.3g, %.1f)", (i > 1 ? "; " : ""), a, best[a], bb[a], (e > 0 ? (bb[a] - b0[a]) / e : 0) }
              printf ".\n" }'
}

fig9_sentences() {
    dmin=$(echo "$D8_LIST" | awk '{print $1}') dmax=$(echo "$D8_LIST" | awk '{print $NF}')
    for d in $dmin $dmax; do
        awk -v d="$d" 'NR == 1 { r0 = $2; h0 = $4; s0 = $6; a0 = $1 } { r1 = $2; h1 = $4; s1 = $6; a1 = $1 }
            END { printf "With delta = %s, from alignment %s to %s the retention goes %.3g -> %.3g, the distance travelled %.3g -> %.3g and the source test loss after joint training %.3g -> %.3g. ", d, a0, a1, r0, r1, h0, h1, s0, s1 }' "$WORK/fig9_joint_$d.dat"
    done
    awk 'NR == 1 { printf "The scratch network'"'"'s features have retention %.3g to ", $2 } { r = $2 } END { printf "%.3g over the same range (the no-transfer reference).\n", r }' "$WORK/fig9_scratch.dat"
}

write_report() {
    cat <<EOF
# Figures: where transfer helps, and where it hurts

Generated by \`notebooks_export/render.sh$( [ $quick = 1 ] && echo " --quick")$( [ $reduced = 1 ] && echo " --reduced")\` with \`$("$AKT" --version 2>/dev/null || echo akt)\`
on $(date -u +%Y-%m-%d). Every number below is read from the CSV beside its figure, which
\`akt sweep\` or \`akt compare\` wrote; the specs are in \`specs/\`. Test loss is the mean of
(f - y)^2 on the noise-free target test split; transfer benefit = scratch test loss minus the
regime's (> 0: transfer helps). delta is the elastic pull of the joint regime toward the source
weights.
EOF
    if [ $reduced = 1 ]; then
        printf '\n**Reduced run (--reduced)**: %s `notebooks_export/render.sh` without `--reduced` makes the full versions.\n' "$REDUCED_NOTE"
    fi
    if [ $quick = 1 ]; then
        printf '\n**Reduced grid (--quick)**: smaller dimensions, sample counts, grids, widths and seeds than the specs; a check that the render runs, not the figures to read.\n'
    fi
    cat <<EOF

## Figure 1: target test loss against alignment

![figure 1](fig1_alignment.png)

Data: \`fig1a_linear_alignment.csv\` (spec \`specs/fig1a_linear_alignment.yaml\`),
\`fig1b_relu_alignment.csv\` (spec \`specs/fig1b_relu_alignment.yaml\`).

(a) Linear teachers, linear network, exact. $(have fig1a_linear_alignment fig1b_relu_alignment && fig1_sentences "$out/fig1a_linear_alignment.csv")

(b) Relu network, population method, error bars: the total error (Monte-Carlo, integration and finite-S bias). $(have fig1a_linear_alignment fig1b_relu_alignment && fig1_sentences "$out/fig1b_relu_alignment.csv")
EOF
    cat <<EOF

## Figure 2: test loss against target samples, for several source sample counts

![figure 2](fig2_samples.png)

Data: \`fig2_samples.csv\` (spec \`specs/fig2_samples.yaml\`; D = $DIM2, linear network, exact).
$(have fig2_samples && fig2_sentences)

## Figure 3: transfer benefit over gamma1 and alignment

![figure 3](fig3_benefit_map.png)

Data: \`fig3_benefit_map.csv\` (spec \`specs/fig3_benefit_map.yaml\`; linear network, exact, joint regime with delta 0.5).
$(have fig3_benefit_map && fig3_sentences)

## Figure 4: theory against finite-width networks

![figure 4](fig4_width.png)

Data: \`fig4_width.csv\` (\`akt compare specs/fig4_width.yaml --widths $W4 --seeds $S4 --json\`; error bars: standard error over seeds).
$(have fig4_width && fig4_sentences "$out/fig4_width.csv" "exact infinite-width value")

## Figure 5: Fashion-MNIST

![figure 5](fig5_fashion.png)

Data: \`fig5_fashion_theory.csv\` (\`akt sweep specs/fig5_fashion.yaml\`, lazy limit),
\`fig5_fashion_population.csv\` (the same sweep with \`--set solver.method=population $Q5POP\`: the
theory at the networks' gamma 0.1, error bars: the total error) and
\`fig5_fashion_networks.csv\` (\`akt compare\` at width $W5, $S5 seeds, gamma 0.1, centred outputs, per P2).
$(have fig5_fashion_theory fig5_fashion_networks && fig5_sentences)
EOF
    if have fig6_fashion_rich; then
        cat <<EOF

## Figure 6: Fashion-MNIST in the rich regime

![figure 6](fig6_fashion_rich.png)

Data: \`fig6_fashion_rich.csv\` (\`akt compare specs/fig6_fashion_rich.yaml --widths $W6 --seeds $S6 --json\` per P2: the population theory at gamma = 1 with its total error, networks of two widths with the standard error over seeds, and their 1/N fit).
$(fig6_sentences)
EOF
    else
        cat <<EOF

## Figure 6: Fashion-MNIST in the rich regime

Not drawn in this version (no \`fig6_fashion_rich.csv\`): at the settings of \`specs/fig6_fashion_rich.yaml\` the population theory alone needs about 18 CPU hours on this machine (README "Performance"); \`render.sh --only 6\` makes it, one \`akt compare\` per P2.
EOF
    fi
    cat <<EOF

## Figure 7: relu theory against width

![figure 7](fig7_relu_width.png)

Data: \`fig7_relu_width.csv\` (\`akt compare specs/fig7_relu_width.yaml --widths $W7 --seeds $S7 --json\`; the theory is the population method with its total error; error bars of the networks: standard error over seeds).
$(have fig7_relu_width && fig4_sentences "$out/fig7_relu_width.csv" "population theory")

## Figure 8: where the elastic pull helps (relu)

![figure 8](fig8_relu_pull.png)

Data: \`fig8_relu_pull.csv\` (\`akt sweep specs/fig8_relu_pull.yaml\`; population method; error bars: the total errors of the joint and scratch losses in quadrature).
$(have fig8_relu_pull && fig8_sentences)

## Figure 9: what joint training keeps of the source

![figure 9](fig9_retention.png)

Data: the sweep of figure 8 and its observables (README "Observables"): retention = CKA of the joint regime's final feature kernel with the source's on the target training points; distance = mean over neurons of |w - w_src|^2 / D; forgetting = the source test loss after joint training. Error bars: total errors.
$(have fig8_relu_pull && fig9_sentences)
EOF
}
