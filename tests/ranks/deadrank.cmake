# Dead-rank tests (docs/ARCHITECTURE.md, "no hangs" invariant: if any rank dies, every other rank
# exits non-zero within 60 s) and the PMIx-then-MPI double init.
#   deadrank_mpirun           ztrain-launch -> mpirun, rank 2 SIGKILLed        (label ranks)
#   deadrank_mpirun_recovery  mpirun --enable-recovery: only the survivors'
#                             barrier timeout ends them                         (label ranks)
#   deadrank_srun             ztrain-launch -> srun -K on the slurm1 cluster   (label slurm)
#   deadrank_abort_{mpirun,srun}  rank 2 calls zt_boot_abort(6): job ends with status 6
#   deadrank_boot_mpi         zt_boot_init then MPI_Init, 3 ranks, clean exit 0 (label ranks)
#   deadrank_boot_singleton   same with no launcher (W=1, no PMIx server)     (label ranks)
#   deadrank_event_handler_*  the PMIx event handler sets the peer-failed flag (positive control)
# Findings (what fires where) are written at the top of deadrank.sh.
add_executable(deadrank ${CMAKE_CURRENT_LIST_DIR}/deadrank.c)
target_link_libraries(deadrank PRIVATE zt_launcher MPI::MPI_C)

set(ZT_SLURM_DIR "/tmp/ztrain-slurm" CACHE PATH "state dir of the test Slurm cluster (tests/slurm/cluster.sh)")
set(ZT_DEADRANK_LAUNCH ${CMAKE_SOURCE_DIR}/launcher/ztrain-launch)
set(ZT_DEADRANK_SH ${CMAKE_CURRENT_LIST_DIR}/deadrank.sh)

add_test(NAME deadrank_mpirun COMMAND ${ZT_DEADRANK_SH} mpirun ${ZT_DEADRANK_LAUNCH} $<TARGET_FILE:deadrank>)
add_test(NAME deadrank_abort_mpirun
  COMMAND ${ZT_DEADRANK_SH} abort-mpirun ${ZT_DEADRANK_LAUNCH} $<TARGET_FILE:deadrank>)
add_test(NAME deadrank_mpirun_recovery
  COMMAND ${ZT_DEADRANK_SH} mpirun-recovery ${ZT_DEADRANK_LAUNCH} $<TARGET_FILE:deadrank>)
add_test(NAME deadrank_boot_mpi
  COMMAND ${ZT_DEADRANK_LAUNCH} -n 3 -- $<TARGET_FILE:deadrank> --victim -1 --iters 30)
add_test(NAME deadrank_boot_singleton COMMAND $<TARGET_FILE:deadrank> --victim -1 --iters 3)
add_test(NAME deadrank_event_handler_mpirun
  COMMAND ${ZT_DEADRANK_SH} self-event-mpirun ${ZT_DEADRANK_LAUNCH} $<TARGET_FILE:deadrank>)
set_tests_properties(deadrank_mpirun deadrank_abort_mpirun deadrank_mpirun_recovery deadrank_boot_mpi
  deadrank_boot_singleton deadrank_event_handler_mpirun PROPERTIES
  LABELS ranks TIMEOUT 150 ENVIRONMENT "ZT_LAUNCH_MODE=mpirun")
set_tests_properties(deadrank_boot_mpi deadrank_boot_singleton deadrank_event_handler_mpirun
  PROPERTIES TIMEOUT 60)

add_test(NAME deadrank_srun COMMAND ${ZT_DEADRANK_SH} srun ${ZT_DEADRANK_LAUNCH} $<TARGET_FILE:deadrank>)
add_test(NAME deadrank_abort_srun
  COMMAND ${ZT_DEADRANK_SH} abort-srun ${ZT_DEADRANK_LAUNCH} $<TARGET_FILE:deadrank>)
add_test(NAME deadrank_event_handler_srun
  COMMAND ${ZT_DEADRANK_SH} self-event-srun ${ZT_DEADRANK_LAUNCH} $<TARGET_FILE:deadrank>)
set_tests_properties(deadrank_srun deadrank_abort_srun deadrank_event_handler_srun PROPERTIES
  LABELS slurm FIXTURES_REQUIRED slurm1 RESOURCE_LOCK slurm_cluster TIMEOUT 150
  SKIP_RETURN_CODE 77
  ENVIRONMENT "SLURM_CONF=${ZT_SLURM_DIR}/slurm.conf;ZT_SLURM_DIR=${ZT_SLURM_DIR};ZT_LAUNCH_MODE=srun")
