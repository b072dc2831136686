/* plot.h — `ztrain plot METRICS.jsonl [OUT.png]` (plot.c). */
#ifndef ZT_PLOT_H
#define ZT_PLOT_H
/* argv[0] is "plot". Returns 0 with the PNG written; errors end the process
 * through zt_fatal: 2 command line, 4 metrics file unreadable or without a
 * training record, 1 gnuplot failed. */
int zt_plot_main(int argc, char **argv);
#endif
