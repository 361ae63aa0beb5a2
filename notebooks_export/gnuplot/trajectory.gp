# trajectory.gp: plot_trajectory.sh's figure. (a) test loss against time per regime, (b) the
# chosen observables against time per regime (colour: regime, dash: observable); replica means.
load gp."/style.gp"
set output out
set terminal @term size 1500,520
lt_of(r) = r eq "scratch" ? 1 : r eq "readout" ? 2 : r eq "joint" ? 3 : 6
dt_of(name) = sum [i=1:words(observables)] (word(observables, i) eq name ? i : 0)
set multiplot layout 1,2
set logscale x
set xlabel "flow time  t"
set title "(a) test loss"
set ylabel "test loss  L_{test}"
set logscale y
set key top right
plot for [i=1:words(regimes)] work."/trajectory_".word(regimes, i).".dat" u 1:2 w l \
     lt lt_of(word(regimes, i)) t word(regimes, i)
set xrange [GPVAL_X_MIN:GPVAL_X_MAX]   # the same time axis in both panels
unset logscale y
set title "(b) observables (README \"Observables\")"
set ylabel "value"
set key outside right top vertical noenhanced
if (words(snames) == 0) {
    set label 1 "no observable measured in this trajectory" at graph 0.5, 0.5 center
    set yrange [0:1]
    unset key
    plot 2 notitle   # outside the range: an empty frame
} else {
    plot for [i=1:words(snames)] work."/trajectory_".word(sregimes, i).".dat" \
         u 1:(column(word(scolumns, i) + 0)) w l lt lt_of(word(sregimes, i)) \
         dt dt_of(word(snames, i)) t word(sregimes, i)." ".word(snames, i)
}
unset multiplot
