# fig6.gp: Fashion-MNIST in the rich regime, one panel per regime: target test loss against P2,
# the population theory with its total error (line), networks of each width (seed mean +-
# standard error) and their 1/N fit's intercept (the extrapolation to infinite width).
load gp."/style.gp"
set output dir."/fig6_fashion_rich.png"
set terminal @term size 1500,520
set multiplot layout 1,3
set logscale x
set xlabel "target samples  P_2"
set ylabel "target test loss  L_{test}"
set key top right
n = words(widths)
do for [r in "scratch readout joint"] {
    set title sprintf("%s (γ = 1)", r)
    plot work."/fig6_theory_".r.".dat" u 1:2:3 w yerrorlines lt 1 lw 2 t "theory (population)", \
         for [i=1:n] work."/fig6_net_".r."_".word(widths, i).".dat" u ($1 * (1 + 0.04 * i)):2:3 \
             w yerrorbars lt (i + 1) pt (4 + 2 * i) t sprintf("networks, N = %s", word(widths, i)), \
         work."/fig6_fit_".r.".dat" u ($1 * 0.96):2:3 w yerrorbars lt 5 pt 7 t "1/N fit at N = ∞"
}
unset multiplot
