# fig8.gp: the joint regime's transfer benefit L_scratch - L_joint against teacher alignment, one
# curve per elastic pull delta, error bars the two total errors in quadrature; zero dotted.
load gp."/style.gp"
set output dir."/fig8_relu_pull.png"
set terminal @term size 800,600
set xlabel "teacher alignment  cos(β_1, β_2)"
set ylabel "transfer benefit  L_{scratch} − L_{joint}"
set xrange [-0.03:1.03]
set key top left
set title "relu, population: where the elastic pull δ helps"
n = words(deltas)
plot for [i=1:n] work."/fig8_benefit_".word(deltas, i).".dat" u ($1 + 0.004 * (i - (n + 1) / 2.0)):2:3 \
         w yerrorlines lt i t sprintf("joint, δ = %s", word(deltas, i)), \
     0 lt -1 dt 3 notitle
