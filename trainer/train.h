/* train.h — `ztrain train` and `ztrain info`. */
#ifndef ZT_TRAIN_H
#define ZT_TRAIN_H
int zt_train_main(int argc, char **argv);
int zt_info_main(int argc, char **argv);
#endif
