/* build_info.h — compile-time facts about this binary. */
#ifndef ZT_BUILD_INFO_H
#define ZT_BUILD_INFO_H
const char *zt_build_gpu(void);   /* "cuda+nccl" or "none" */
#endif
