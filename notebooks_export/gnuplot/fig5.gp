# fig5.gp: Fashion-MNIST, target test loss against target samples: lazy-limit theory (lines), the
# population theory at the networks' gamma (open symbols, +- total error) and finite-width networks
# (filled symbols, seed mean +- standard error).
load gp."/style.gp"
set output dir."/fig5_fashion.png"
set terminal @term size 800,600
set logscale x
set xlabel "target samples  P_2"
set ylabel "target test loss  L_{test}"
set key top right
set title "Fashion-MNIST: T-shirt/shirt → pullover/coat (relu)"
plot work."/fig5_theory_scratch.dat" u 1:2 w lp lt 1 t "scratch, lazy limit", \
     work."/fig5_theory_readout.dat" u 1:2 w lp lt 2 t "readout, lazy limit", \
     work."/fig5_theory_joint.dat" u 1:2 w lp lt 4 t "joint, lazy limit", \
     work."/fig5_population_scratch.dat" u 1:2:3 w yerrorbars lt 1 pt 6 t "scratch, theory at {/Symbol g}", \
     work."/fig5_population_readout.dat" u 1:2:3 w yerrorbars lt 2 pt 4 t "readout, theory at {/Symbol g}", \
     work."/fig5_population_joint.dat" u 1:2:3 w yerrorbars lt 4 pt 8 t "joint, theory at {/Symbol g}", \
     work."/fig5_net_scratch.dat" u 1:2:3 w yerrorbars lt 1 t sprintf("scratch, N = %s", width), \
     work."/fig5_net_readout.dat" u 1:2:3 w yerrorbars lt 2 t sprintf("readout, N = %s", width), \
     work."/fig5_net_joint.dat" u 1:2:3 w yerrorbars lt 4 t sprintf("joint, N = %s", width)
