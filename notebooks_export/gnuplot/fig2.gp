# fig2.gp: target test loss against nu2 = P2/D for several nu1 = P1/D; (a) readout, (b) joint.
load gp."/style.gp"
set output dir."/fig2_samples.png"
set terminal @term size 1300,520
D = (dim + 0.0)
set multiplot layout 1,2
set logscale xy
set xlabel "target samples  ν_2 = P_2 / D"
set ylabel "target test loss  L_{test}"
set key bottom left
n = words(p1list)
do for [panel in "readout joint"] {
    set title (panel eq "readout" ? "(a) readout on source features" : "(b) joint, elastic δ = 0.5")
    plot work."/fig2_scratch.dat" u ($1/D):2 w lp lt 1 dt 2 t "scratch", \
         for [i=1:n] work."/fig2_".panel."_".word(p1list,i).".dat" u ($1/D):2 w lp lt (i+1) \
             t sprintf("ν_1 = %g", (word(p1list,i) + 0)/D)
}
unset multiplot
