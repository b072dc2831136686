/* build_info.c — what this binary was built with (`ztrain info --build`);
 * CI uses it to fail when nvcc/NCCL exist but the GPU path was not built. */
#include "build_info.h"

const char *zt_build_gpu(void) {
#ifdef ZT_HAVE_CUDA
    return "cuda+nccl";
#else
    return "none";
#endif
}
