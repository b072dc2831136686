/* build_info.h — compile-time facts about this binary, and its GPUs. */
#ifndef ZT_BUILD_INFO_H
#define ZT_BUILD_INFO_H
const char *zt_build_gpu(void);   /* "cuda+nccl" or "none" */
int zt_build_has_cuda(void);      /* 1: built with the CUDA/NCCL path */
/* GPUs visible to this process (CUDA_VISIBLE_DEVICES applies); 0 without
 * CUDA, a driver or a device. Initialises the CUDA runtime: call it only
 * for train.device = cuda. */
int zt_gpu_count(void);
#endif
