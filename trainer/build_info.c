/* build_info.c — what this binary was built with (`ztrain info --build`; CI
 * uses it to fail when nvcc/NCCL exist but the GPU path was not built), and
 * the GPUs it can see at run time. */
#include "build_info.h"
#ifdef ZT_HAVE_CUDA
#include <cuda_runtime_api.h>   /* cudaGetDeviceCount */
#endif

const char *zt_build_gpu(void) {
#ifdef ZT_HAVE_CUDA
    return "cuda+nccl";
#else
    return "none";
#endif
}

int zt_build_has_cuda(void) {
#ifdef ZT_HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}

int zt_gpu_count(void) {
#ifdef ZT_HAVE_CUDA
    int n = 0;
    /* no driver or no device is an error here, and simply means 0 GPUs */
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
    return n;
#else
    return 0;
#endif
}
