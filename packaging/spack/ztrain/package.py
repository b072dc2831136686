# Spack package for ztrain. Use from a checkout:
#   spack repo create ~/myrepo && cp -r packaging/spack/ztrain ~/myrepo/packages/
#   spack repo add ~/myrepo && spack install ztrain@main [+cuda]
#   spack load ztrain      # or: module load ztrain (Spack's generated module)
# Dependencies match scripts/setup.sh's Debian packages: an MPI with PMIx
# (OpenMPI), HDF5 (C, 1.10+), OpenBLAS, inih, jansson, zlib; Criterion only
# for the tests. +cuda builds the CUDA/NCCL path (CMake finds nvcc and
# nccl.h under ZT_CUDA_ROOT).

from spack.package import *


class Ztrain(CMakePackage, CudaPackage):
    """Slurm-integrated batch training runner: DDP / ZeRO-1/2/3 over MPI or
    NCCL, sharded HDF5 checkpoints that resume at any rank count, sbatch
    templates that requeue on time limits and resubmit after node loss."""

    # where your site keeps the sources: set both to your repository
    homepage = "https://example.org/ztrain"
    git = "https://example.org/ztrain.git"

    version("main", branch="main")

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("cmake@3.25:", type="build")
    depends_on("pkgconfig", type="build")
    depends_on("openmpi +pmix schedulers=slurm")
    depends_on("pmix")
    depends_on("hdf5@1.10: ~mpi")
    depends_on("openblas")
    depends_on("inih")
    depends_on("jansson")
    depends_on("zlib-api")
    depends_on("nccl", when="+cuda")

    def cmake_args(self):
        args = [self.define_from_variant("ZT_GPU", "cuda")]
        if self.spec.satisfies("+cuda"):
            # CMakeLists.txt looks for bin/nvcc and include/nccl.h under one
            # root; Spack keeps CUDA and NCCL in two prefixes, so point CPATH
            # and the library path at NCCL as well
            args.append(self.define("ZT_CUDA_ROOT", self.spec["cuda"].prefix))
            args.append(self.define("CMAKE_LIBRARY_PATH", self.spec["nccl"].prefix.lib))
        return args

    def setup_build_environment(self, env):
        if self.spec.satisfies("+cuda"):
            env.prepend_path("CPATH", self.spec["nccl"].prefix.include)

    def setup_run_environment(self, env):
        env.set("ZTRAIN_ROOT", self.prefix)

    @run_after("install")
    @on_package_attributes(run_tests=True)
    def check_version(self):
        ztrain = Executable(self.prefix.bin.ztrain)
        ztrain("--version")
