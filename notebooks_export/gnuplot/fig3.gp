# fig3.gp: transfer benefit L_scratch - L_joint over gamma1 x alignment, diverging palette
# (blue: transfer helps, red: it hurts), the zero contour in black.
load gp."/style.gp"
set output dir."/fig3_benefit_map.png"
set terminal @term size 760,600
B = (bmax + 0); Bmin = (bmin + 0)
# The palette is white at zero and saturates at each side's own extreme, so a weak negative
# transfer region is still visibly red next to a strong positive one.
if (Bmin >= 0) { Bmin = -1e-3 * B }
set view map
set logscale x
set xlabel "source feature-learning strength  γ_1"
set ylabel "teacher alignment  cos(β_1, β_2)"
set cblabel "transfer benefit  L_{scratch} − L_{joint}"
set cbrange [Bmin:B]
set palette defined (Bmin "#b2182b", Bmin/2 "#ef8a62", 0 "#f7f7f7", B/2 "#67a9cf", B "#2166ac")
set pm3d map corners2color mean interpolate 4,4
set contour base
set cntrparam levels discrete 0
unset clabel
set title "transfer benefit of the joint regime (δ = 0.5), linear network; black line: zero"
set grid front
set key below box opaque
splot work."/fig3_map.dat" u 1:2:3 w pm3d notitle, \
      work."/fig3_map.dat" u 1:2:3 w lines nosurface lc rgb "#000000" lw 2 t "zero: no benefit"
