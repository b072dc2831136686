/* build_info.h — compile-time facts about this binary, and its GPUs. */
#ifndef ZT_BUILD_INFO_H
#define ZT_BUILD_INFO_H
const char *zt_build_gpu(void);   /* "cuda+nccl" or "none" */
int zt_build_has_cuda(void);      /* 1: built with the CUDA/NCCL path */
/* "0.1.0-42-gabc1234[-dirty]" from git describe at build time, else the
 * project version; the source says which ("git" or "project"). */
const char *zt_build_version(void);
const char *zt_build_version_source(void);
/* "+cuda +nccl -onednn -sentencepiece": each optional feature, on or off */
const char *zt_build_features(void);
/* GPUs visible to this process (CUDA_VISIBLE_DEVICES applies); 0 without
 * CUDA, a driver or a device. Initialises the CUDA runtime: call it only
 * for train.device = cuda. */
int zt_gpu_count(void);
#endif
