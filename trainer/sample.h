/* sample.h — `ztrain sample DIR [...]` (sample.c): text from a GPT checkpoint. */
#ifndef ZT_SAMPLE_H
#define ZT_SAMPLE_H
/* argv[0] is "sample". Returns the exit code (errors end through zt_fatal). */
int zt_sample_main(int argc, char **argv);
#endif
