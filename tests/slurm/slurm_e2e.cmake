# End-to-end tests of sbatch/ on the real local Slurm cluster. They use the
# fixtures of slurm.cmake (slurm1: one node; slurm2: n1 + n2; slurm4: n1..n4) and the prepared
# datasets (fixture testdata, tests/ranks/train.cmake). Each job trains for
# more steps than any machine finishes in the test's time: only the event the
# test waits for and then causes (a signal, a killed rank, a lost node, Slurm's
# own time-limit warning) ends a run (e2e_lib.sh).
function(zt_e2e_test name fixture script)
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${script})
  set_tests_properties(${name} PROPERTIES LABELS slurm FIXTURES_REQUIRED "${fixture};testdata"
    RESOURCE_LOCK slurm_cluster SKIP_RETURN_CODE 77 TIMEOUT 420
    ENVIRONMENT "${ZT_SLURM_ENV};ZT=$<TARGET_FILE:ztrain>;SRC=${CMAKE_SOURCE_DIR};DATA=${CMAKE_BINARY_DIR}/testdata")
endfunction()
# warning signal -> checkpoint -> requeue -> resume, bit-identical to a plain run
zt_e2e_test(slurm_e2e_requeue   slurm1 e2e_requeue.sh)
# the same started by Slurm itself: sbatch --time=1 --signal=USR2@15
zt_e2e_test(slurm_e2e_timelimit slurm1 e2e_timelimit.sh)
# an unprivileged user (useradd ztuser) submits, signals, is requeued, resumes
zt_e2e_test(slurm_e2e_user      slurm1 e2e_user.sh)
# a SIGKILLed rank ends the step; resumed at another W
zt_e2e_test(slurm_e2e_crash     slurm1 e2e_crash.sh)
# nightly.sbatch: stop, resubmit itself, resume and complete
zt_e2e_test(slurm_e2e_nightly   slurm1 e2e_nightly.sh)
# a lost node: resubmitted on the remaining node, resumed at W=2
zt_e2e_test(slurm2_e2e_nodeloss slurm2 e2e_nodeloss.sh)
# four nodes lose one: resubmitted on the three left, resumed at W=6 from W=8
zt_e2e_test(slurm4_e2e_nodeloss slurm4 e2e_nodeloss4.sh)
# cmake --install into a temp prefix; a job from the installed sbatch template
# finds bin/ztrain on PATH; version in the metrics and the checkpoint index
zt_e2e_test(slurm_e2e_install   slurm1 e2e_install.sh)
set_property(TEST slurm_e2e_install APPEND PROPERTY ENVIRONMENT BUILD=${CMAKE_BINARY_DIR})
# ckpt.layout=per-node over 2 nodes (2 shard files), resumed per-rank at W=2 on one node
zt_e2e_test(slurm2_e2e_layout   slurm2 e2e_layout.sh)
