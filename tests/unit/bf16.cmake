# bf16 on the CPU (cpu-bf16 op table, trainer/ops/ops_dnnl.c): every op of the
# table against the fp32 CPU table with the bf16 tolerances of the GPU check
# (tests/gpu/ops_check.c, shared, built here without CUDA). Exit 77 = skipped.
add_executable(zt_ops_check_cpu ${CMAKE_SOURCE_DIR}/tests/gpu/ops_check.c)
target_link_libraries(zt_ops_check_cpu PRIVATE zt_trainer)
add_test(NAME ops_bf16 COMMAND zt_ops_check_cpu --table cpu-bf16 --small)
set_tests_properties(ops_bf16 PROPERTIES LABELS unit TIMEOUT 300 SKIP_RETURN_CODE 77
  ENVIRONMENT "OMP_NUM_THREADS=1")
