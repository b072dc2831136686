#%Module1.0
## ztrain @ZT_VERSION@ — environment-modules modulefile (cmake --install writes
## it with the prefix filled in). Use:
##   module use @ZT_PREFIX@/share/ztrain/modulefiles
##   module load ztrain
proc ModulesHelp { } {
    puts stderr "ztrain @ZT_VERSION@: Slurm-integrated batch training runner."
    puts stderr "  sbatch \$ZTRAIN_ROOT/share/ztrain/sbatch/train.sbatch   (ztrain found on PATH)"
}
module-whatis "ztrain @ZT_VERSION@: Slurm-integrated batch training runner (DDP/ZeRO, HDF5 checkpoints)"
conflict ztrain
set root @ZT_PREFIX@
setenv       ZTRAIN_ROOT  $root
prepend-path PATH         $root/bin
prepend-path MANPATH      $root/share/man
