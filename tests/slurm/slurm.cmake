# Slurm end-to-end tests (label slurm) on a real local cluster started by
# tests/slurm/cluster.sh (munged + slurmctld + slurmd as root; config, state
# and logs under ZT_SLURM_DIR, clients find it through SLURM_CONF).
#
# Fixtures: `slurm1` (one node, CPUs=8), `slurm2` (simulated nodes n1,n2,
# CPUs=4 each) and `slurm4` (n1..n4, CPUs=2 each). slurm2's start DEPENDS on
# slurm1's stop and slurm4's on slurm2's, so no two overlap; every test holds RESOURCE_LOCK slurm_cluster (2 cores). Where Slurm
# is not installed (or not root) each test exits 77 -> SKIPPED, loudly.
# A test of another area joins with:
#   set_tests_properties(T PROPERTIES FIXTURES_REQUIRED slurm1 LABELS slurm
#     RESOURCE_LOCK slurm_cluster ENVIRONMENT "${ZT_SLURM_ENV}" SKIP_RETURN_CODE 77)
set(ZT_SLURM_DIR "/tmp/ztrain-slurm" CACHE PATH "state dir of the test Slurm cluster (tests/slurm/cluster.sh)")
set(ZT_SLURM_ENV "SLURM_CONF=${ZT_SLURM_DIR}/slurm.conf;ZT_SLURM_DIR=${ZT_SLURM_DIR}")
set(ZT_SLURM_SH ${CMAKE_CURRENT_LIST_DIR})
set(ZT_LAUNCH_SH ${CMAKE_SOURCE_DIR}/launcher/ztrain-launch)

# The info tests run `ztrain info` (trainer/info.c: one line per rank
# "rank R/W local L/LS node N/NN host H backend B", then a summary from rank 0
# that check_info.awk ignores). tests/slurm/zt_info_probe prints the same line
# from the launcher alone (zt_proc_format) plus job/step ids, and checks
# PMIx-then-MPI init; -DZT_INFO_USE_PROBE=ON points the info tests at it.
add_executable(zt_info_probe ${CMAKE_CURRENT_LIST_DIR}/zt_info_probe.c)
target_link_libraries(zt_info_probe PRIVATE zt_launcher MPI::MPI_C)
option(ZT_INFO_USE_PROBE "Slurm info tests run tests/slurm/zt_info_probe instead of ztrain info" OFF)
if(TARGET ztrain AND NOT ZT_INFO_USE_PROBE)
  set(ZT_INFO_CMD $<TARGET_FILE:ztrain> info)
else()
  set(ZT_INFO_CMD $<TARGET_FILE:zt_info_probe> info)
endif()

function(zt_slurm_test name fixture)
  add_test(NAME ${name} COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS slurm FIXTURES_REQUIRED ${fixture}
    RESOURCE_LOCK slurm_cluster ENVIRONMENT "${ZT_SLURM_ENV}" SKIP_RETURN_CODE 77 TIMEOUT 180)
endfunction()

# --- cluster fixtures ------------------------------------------------------
foreach(shape 1 2 4)
  add_test(NAME slurm${shape}_start COMMAND ${ZT_SLURM_SH}/cluster.sh start ${shape})
  add_test(NAME slurm${shape}_stop COMMAND ${ZT_SLURM_SH}/cluster.sh stop)
  set_tests_properties(slurm${shape}_start PROPERTIES FIXTURES_SETUP slurm${shape})
  set_tests_properties(slurm${shape}_stop PROPERTIES FIXTURES_CLEANUP slurm${shape})
  set_tests_properties(slurm${shape}_start slurm${shape}_stop PROPERTIES LABELS slurm
    RESOURCE_LOCK slurm_cluster ENVIRONMENT "${ZT_SLURM_ENV}" SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
set_tests_properties(slurm2_start PROPERTIES DEPENDS slurm1_stop)
set_tests_properties(slurm4_start PROPERTIES DEPENDS slurm2_stop)

# --- one node --------------------------------------------------------------
# srun --mpi=pmix -n 3 <ztrain> info: three distinct ranks of size 3
zt_slurm_test(slurm_info_n3 slurm1 ${ZT_SLURM_SH}/test_info.sh 1 3 1 -- ${ZT_INFO_CMD})
# the launcher's PMIx init followed by OpenMPI's MPI_Init in one process, under
# srun; node ids by the put/fence/get exchange even on one node
zt_slurm_test(slurm_probe_mpi_n3 slurm1
  ${ZT_SLURM_SH}/test_info.sh 1 3 1 -- $<TARGET_FILE:zt_info_probe> info --mpi)
set_property(TEST slurm_probe_mpi_n3 APPEND PROPERTY ENVIRONMENT ZT_BOOT_NODE_EXCHANGE=1)
# sbatch --wait of tiny jobs; ztrain-launch inside an allocation picks srun
zt_slurm_test(slurm_sbatch slurm1 ${ZT_SLURM_SH}/test_sbatch.sh ${ZT_LAUNCH_SH} -- ${ZT_INFO_CMD})

# --- two simulated nodes ---------------------------------------------------
# srun --mpi=pmix -N 2 -n 4 <ztrain> info: node ids 0,1, local ranks per node
zt_slurm_test(slurm2_info_n4 slurm2 ${ZT_SLURM_SH}/test_info.sh 2 4 2 -- ${ZT_INFO_CMD})
# 2+2 tasks: same local ranks on both simulated nodes (regression: OpenMPI's
# shared-memory segments collided until cluster.sh's TaskProlog separated them)
zt_slurm_test(slurm2_info_2x2 slurm2
  ${ZT_SLURM_SH}/test_info.sh 2 4 2 --ntasks-per-node=2 -- ${ZT_INFO_CMD})
# the same with nodes named by PMIX_LOCAL_PEERS instead of PMIX_NODEID (the
# fallback), plus an MPI all-reduce across the two nodes
zt_slurm_test(slurm2_probe_peers_n4 slurm2
  ${ZT_SLURM_SH}/test_info.sh 2 4 2 -- $<TARGET_FILE:zt_info_probe> info --mpi)
set_property(TEST slurm2_probe_peers_n4 APPEND PROPERTY ENVIRONMENT ZT_BOOT_NODE_EXCHANGE=2)

# --- four simulated nodes --------------------------------------------------
# srun --mpi=pmix -N 4 -n 8 <ztrain> info: node ids 0..3, local ranks 0,1 on each
zt_slurm_test(slurm4_info_n8 slurm4 ${ZT_SLURM_SH}/test_info.sh 4 8 4 -- ${ZT_INFO_CMD})

# --- no cluster needed -----------------------------------------------------
add_test(NAME slurm_check_info_selftest COMMAND ${ZT_SLURM_SH}/check_info_selftest.sh)
set_tests_properties(slurm_check_info_selftest PROPERTIES LABELS unit TIMEOUT 30)
# cmake --install into a temp prefix: files, modulefiles, --version (no Slurm)
add_test(NAME install_prefix COMMAND ${ZT_SLURM_SH}/install_check.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(install_prefix PROPERTIES LABELS unit TIMEOUT 60)
