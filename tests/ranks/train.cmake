# Multi-rank trainer tests: real processes via mpirun (launcher/ztrain-launch).
# Fixture `testdata` prepares the real datasets once into ${CMAKE_BINARY_DIR}/testdata.
set(ZT_TESTDATA ${CMAKE_BINARY_DIR}/testdata)
add_test(NAME data_prepare
  COMMAND bash -c "mkdir -p ${ZT_TESTDATA} && $<TARGET_FILE:ztrain> data prep mnist ${ZT_TESTDATA}/mnist.h5 ${CMAKE_SOURCE_DIR}/data/raw/mnist && $<TARGET_FILE:ztrain> data prep text ${ZT_TESTDATA}/fortunes.h5")
set_tests_properties(data_prepare PROPERTIES FIXTURES_SETUP testdata LABELS "ranks;integration")

function(zt_rank_test name script)
  add_test(NAME ${name} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ranks/${script} ${ARGN})
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED testdata LABELS ranks TIMEOUT 600
    ENVIRONMENT "ZT=$<TARGET_FILE:ztrain>;SRC=${CMAKE_SOURCE_DIR};DATA=${ZT_TESTDATA}")
endfunction()
zt_rank_test(train_invariance_mlp invariance.sh mlp)
zt_rank_test(train_invariance_gpt invariance.sh gpt)
zt_rank_test(train_memory memory.sh)
zt_rank_test(train_overlap overlap.sh)
zt_rank_test(train_config_errors config_errors.sh)
zt_rank_test(ckpt_resume_mlp resume.sh mlp)
zt_rank_test(ckpt_resume_gpt resume.sh gpt)
zt_rank_test(ckpt_robust ckpt_robust.sh)
zt_rank_test(train_deep_gpt deep_gpt.sh)
zt_rank_test(ckpt_lock ckpt_lock.sh)
zt_rank_test(ckpt_durable ckpt_durable.sh)
zt_rank_test(ckpt_resume_changes resume_changes.sh)
# needs the comm layer's ZT_FAULT_COLLECTIVE switch (fault injection for tests)
zt_rank_test(train_fault fault.sh)
# resume at steps above 2^24 (ckpt_restep copies a checkpoint under another step)
add_executable(ckpt_restep ${CMAKE_CURRENT_LIST_DIR}/ckpt_restep.c)
target_link_libraries(ckpt_restep PRIVATE zt_trainer)
zt_rank_test(ckpt_big_step big_step.sh $<TARGET_FILE:ckpt_restep>)
# users' own data (datasets/FORMAT.md) and `data prep idx` (Fashion-MNIST from scripts/setup.sh)
zt_rank_test(data_schema data_schema.sh)
zt_rank_test(data_prep_idx data_idx.sh)
# `ztrain plot` (gnuplot from scripts/setup.sh): finished, restarted and running runs
zt_rank_test(plot plot.sh)
zt_rank_test(lm_bpe_sample lm.sh)
# train.exact: byte-identical params and optimizer state at any W and stage
zt_rank_test(train_exact_mlp exact.sh mlp)
zt_rank_test(train_exact_gpt exact.sh gpt)
zt_rank_test(ckpt_layout ckpt_layout.sh)
# the CNN: BatchNorm running statistics across W, stages and a resharded resume
zt_rank_test(train_cnn cnn.sh)
