# End-to-end tests of sbatch/ on the real local Slurm cluster (issue 6).
# They use the fixtures of slurm.cmake (slurm1: one node; slurm2: n1 + n2)
# and the prepared datasets (fixture testdata, tests/ranks/train.cmake).
function(zt_e2e_test name fixture script)
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${script})
  set_tests_properties(${name} PROPERTIES LABELS slurm FIXTURES_REQUIRED "${fixture};testdata"
    RESOURCE_LOCK slurm_cluster SKIP_RETURN_CODE 77 TIMEOUT 420
    ENVIRONMENT "${ZT_SLURM_ENV};ZT=$<TARGET_FILE:ztrain>;SRC=${CMAKE_SOURCE_DIR};DATA=${CMAKE_BINARY_DIR}/testdata")
endfunction()
zt_e2e_test(slurm_e2e_requeue  slurm1 e2e_requeue.sh)
zt_e2e_test(slurm_e2e_crash    slurm1 e2e_crash.sh)
zt_e2e_test(slurm_e2e_nightly  slurm1 e2e_nightly.sh)
zt_e2e_test(slurm2_e2e_nodeloss slurm2 e2e_nodeloss.sh)
