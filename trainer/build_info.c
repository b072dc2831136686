/* build_info.c — what this binary was built with (`ztrain --version`,
 * `ztrain info --build`; CI uses the latter to fail when nvcc/NCCL exist but
 * the GPU path was not built), and the GPUs it can see at run time.
 *
 * Optional features are compile definitions on zt_trainer, each off unless
 * the CMake code that found the library sets it: ZT_HAVE_CUDA (CUDA + NCCL
 * path), ZT_HAVE_DNNL (oneDNN CPU ops), ZT_HAVE_SPM (SentencePiece). */
#include <stdio.h>      /* snprintf */
#include "build_info.h"
#include "zt_version.h" /* ZT_VERSION, ZT_VERSION_SOURCE: written at build time */
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

const char *zt_build_version(void) { return ZT_VERSION; }
const char *zt_build_version_source(void) { return ZT_VERSION_SOURCE; }

/* One word per optional feature, "+name" when compiled in, "-name" when not,
 * so a script can grep for "+cuda" and a person sees what is missing. */
const char *zt_build_features(void) {
    static char buf[128];
    if (!buf[0]) {
        int cuda = 0, dnnl = 0, spm = 0;
#ifdef ZT_HAVE_CUDA
        cuda = 1;
#endif
#ifdef ZT_HAVE_DNNL
        dnnl = 1;
#endif
#ifdef ZT_HAVE_SPM
        spm = 1;
#endif
        snprintf(buf, sizeof buf, "%ccuda %cnccl %conednn %csentencepiece", cuda ? '+' : '-',
                 cuda ? '+' : '-', dnnl ? '+' : '-', spm ? '+' : '-');
    }
    return buf;
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
