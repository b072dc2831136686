-- ztrain @ZT_VERSION@ — Lmod modulefile (cmake --install writes it with the
-- prefix filled in). Use:
--   module use @ZT_PREFIX@/share/ztrain/modulefiles
--   module load ztrain
help([[
ztrain @ZT_VERSION@: Slurm-integrated batch training runner.
  sbatch $ZTRAIN_ROOT/share/ztrain/sbatch/train.sbatch   (ztrain found on PATH)
]])
whatis("Name: ztrain")
whatis("Version: @ZT_VERSION@")
whatis("Description: Slurm-integrated batch training runner (DDP/ZeRO, HDF5 checkpoints)")
family("ztrain")
local root = "@ZT_PREFIX@"
setenv("ZTRAIN_ROOT", root)
prepend_path("PATH", pathJoin(root, "bin"))
prepend_path("MANPATH", pathJoin(root, "share/man"))
