# fig1.gp: target test loss against teacher alignment, four regimes; (a) linear network solved
# exactly, (b) relu network by the population method with error bars (total error).
load gp."/style.gp"
set output dir."/fig1_alignment.png"
set terminal @term size 1300,520
set multiplot layout 1,2
set xlabel "teacher alignment  cos(β_1, β_2)"
set ylabel "target test loss  L_{test}"
set xrange [-0.03:1.03]
set key bottom left
set title "(a) linear teachers, linear network (exact)"
plot work."/lin_scratch.dat" u 1:2 w lp lt 1 t "scratch", \
     work."/lin_readout.dat" u 1:2 w lp lt 2 t "readout", \
     work."/lin_joint_elastic.dat" u 1:2 w lp lt 3 t "joint, δ = 0.5", \
     work."/lin_joint_free.dat" u 1:2 w lp lt 4 t "joint, δ = 0"
set key top right
set title "(b) He_1 + 0.5 He_2 teachers, relu network (population)"
plot work."/relu_scratch.dat" u 1:2:3 w yerrorlines lt 1 t "scratch", \
     work."/relu_readout.dat" u 1:2:3 w yerrorlines lt 2 t "readout", \
     work."/relu_joint_elastic.dat" u 1:2:3 w yerrorlines lt 3 t "joint, δ = 0.5", \
     work."/relu_joint_free.dat" u 1:2:3 w yerrorlines lt 4 t "joint, δ = 0"
unset multiplot
