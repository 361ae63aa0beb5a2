# fig9.gp: what joint training keeps of the source, against teacher alignment, one curve per
# elastic pull delta: (a) retention, the CKA of the joint regime's feature kernel with the
# source's on the target training points (scratch's as the no-transfer reference); (b) distance
# travelled, mean |w - w_src|^2 / D; (c) forgetting, the source test loss after joint training
# (the source's own test loss dotted). Error bars: total errors.
load gp."/style.gp"
set output dir."/fig9_retention.png"
set terminal @term size 1500,520
set multiplot layout 1,3
set xlabel "teacher alignment  cos(β_1, β_2)"
set xrange [-0.03:1.03]
n = words(deltas)
set key bottom right
set title "(a) retention  CKA(Φ_s, Φ_{joint})"
set ylabel "centred kernel alignment"
plot for [i=1:n] work."/fig9_joint_".word(deltas, i).".dat" u 1:2:3 w yerrorlines lt i \
         t sprintf("joint, δ = %s", word(deltas, i)), \
     work."/fig9_scratch.dat" u 1:2:3 w yerrorlines lt -1 dt 2 t "scratch"
set key top right
set title "(b) distance travelled  <|w − w_s|^2> / D"
set ylabel "hidden distance"
set logscale y
plot for [i=1:n] work."/fig9_joint_".word(deltas, i).".dat" u 1:4:5 w yerrorlines lt i \
         t sprintf("δ = %s", word(deltas, i))
unset logscale y
set title "(c) forgetting: source test loss after joint training"
set ylabel "source test loss"
set key top right
plot for [i=1:n] work."/fig9_joint_".word(deltas, i).".dat" u 1:6:7 w yerrorlines lt i \
         t sprintf("δ = %s", word(deltas, i)), \
     work."/fig9_source.dat" u 1:2 w l lt -1 dt 3 t "source, before"
unset multiplot
