# fig4.gp: finite-width networks (seed mean +- standard error) against 1/N, with the weighted 1/N
# fit (dashed) and the infinite-width theory at 1/N = 0 (open symbols on the axis, dotted level).
load gp."/style.gp"
set output dir."/fig4_width.png"
set terminal @term size 800,600
set xlabel "inverse width  1/N"
set ylabel "target test loss  L_{test}"
set key outside right top
set xrange [-0.002:*]
stats work."/fig4_joint.dat" u 1 nooutput
xmax = STATS_max * 1.08
set xrange [-0.03 * xmax : xmax]
set title "theory (1/N = 0) against finite-width networks"
th(f) = system("awk 'NR==1{print $4}' ".f)
sl(f) = system("awk 'NR==1{print $5}' ".f)
ic(f) = system("awk 'NR==1{print $6}' ".f)
fs = work."/fig4_scratch.dat"; fr = work."/fig4_readout.dat"; fj = work."/fig4_joint.dat"
ths = (th(fs) + 0); thr = (th(fr) + 0); thj = (th(fj) + 0)
plot fs u 1:2:3 w yerrorbars lt 1 t "scratch, networks", \
     (x < 0 ? NaN : (ic(fs) + 0) + (sl(fs) + 0) * x) lt 1 dt 2 t "scratch, 1/N fit", \
     '+' u (0):(ths) every ::0::0 w p lt 1 pt 6 ps 2 lw 2 t "scratch, theory", \
     ths lt 1 dt 3 lw 0.8 notitle, \
     fr u 1:2:3 w yerrorbars lt 2 t "readout, networks", \
     (x < 0 ? NaN : (ic(fr) + 0) + (sl(fr) + 0) * x) lt 2 dt 2 t "readout, 1/N fit", \
     '+' u (0):(thr) every ::0::0 w p lt 2 pt 4 ps 2 lw 2 t "readout, theory", \
     thr lt 2 dt 3 lw 0.8 notitle, \
     fj u 1:2:3 w yerrorbars lt 3 t "joint, networks", \
     (x < 0 ? NaN : (ic(fj) + 0) + (sl(fj) + 0) * x) lt 3 dt 2 t "joint, 1/N fit", \
     '+' u (0):(thj) every ::0::0 w p lt 3 pt 8 ps 2 lw 2 t "joint, theory", \
     thj lt 3 dt 3 lw 0.8 notitle
