# fig4.gp: finite-width networks (seed mean +- standard error) against 1/N, with the weighted 1/N
# fit (dashed) and the infinite-width theory at 1/N = 0 (open symbols on the axis with the
# theory's error bar, dotted level). Figures 4 (linear, exact) and 7 (relu, population) both:
# name = the figure's file stem, caption = its title.
load gp."/style.gp"
set output dir."/".name.".png"
set terminal @term size 800,600
set xlabel "inverse width  1/N"
set ylabel "target test loss  L_{test}"
set key outside right top
set xrange [-0.002:*]
stats work."/".name."_joint.dat" u 1 nooutput
xmax = STATS_max * 1.08
set xrange [-0.03 * xmax : xmax]
set title caption
th(f) = system("awk 'NR==1{print $4}' ".f)
te(f) = system("awk 'NR==1{print ($8 == \"\" ? 0 : $8)}' ".f)
sl(f) = system("awk 'NR==1{print $5}' ".f)
ic(f) = system("awk 'NR==1{print $6}' ".f)
fs = work."/".name."_scratch.dat"; fr = work."/".name."_readout.dat"; fj = work."/".name."_joint.dat"
ths = (th(fs) + 0); thr = (th(fr) + 0); thj = (th(fj) + 0)
tes = (te(fs) + 0); ter = (te(fr) + 0); tej = (te(fj) + 0)
plot fs u 1:2:3 w yerrorbars lt 1 t "scratch, networks", \
     (x < 0 ? NaN : (ic(fs) + 0) + (sl(fs) + 0) * x) lt 1 dt 2 t "scratch, 1/N fit", \
     '+' u (0):(ths):(tes) every ::0::0 w yerrorbars lt 1 pt 6 ps 2 lw 2 t "scratch, theory", \
     ths lt 1 dt 3 lw 0.8 notitle, \
     fr u 1:2:3 w yerrorbars lt 2 t "readout, networks", \
     (x < 0 ? NaN : (ic(fr) + 0) + (sl(fr) + 0) * x) lt 2 dt 2 t "readout, 1/N fit", \
     '+' u (0):(thr):(ter) every ::0::0 w yerrorbars lt 2 pt 4 ps 2 lw 2 t "readout, theory", \
     thr lt 2 dt 3 lw 0.8 notitle, \
     fj u 1:2:3 w yerrorbars lt 3 t "joint, networks", \
     (x < 0 ? NaN : (ic(fj) + 0) + (sl(fj) + 0) * x) lt 3 dt 2 t "joint, 1/N fit", \
     '+' u (0):(thj):(tej) every ::0::0 w yerrorbars lt 3 pt 8 ps 2 lw 2 t "joint, theory", \
     thj lt 3 dt 3 lw 0.8 notitle
