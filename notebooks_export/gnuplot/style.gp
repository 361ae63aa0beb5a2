# style.gp: shared look of the figures (colour-blind safe Okabe-Ito colours, one per regime).
set terminal @term
set border lw 1.2
set grid lc rgb "#dddddd" lw 1
set key box opaque samplen 2.5 spacing 1.15
set linetype 1 lc rgb "#000000" pt 7 ps 0.9 dt 1   # scratch
set linetype 2 lc rgb "#E69F00" pt 5 ps 0.9 dt 1   # readout
set linetype 3 lc rgb "#0072B2" pt 9 ps 1.1 dt 1   # joint, elastic 0.5
set linetype 4 lc rgb "#009E73" pt 11 ps 1.1 dt 1  # joint, elastic 0
set linetype 5 lc rgb "#CC79A7" pt 13 ps 1.1 dt 1
set linetype 6 lc rgb "#D55E00" pt 3 ps 1.1 dt 1
set datafile missing "NaN"
