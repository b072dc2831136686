# GPU checks (issue 7). Built only with the CUDA path (ZT_HAVE_CUDA); nothing
# registered here needs a GPU. On a machine with one, tests/gpu/run.sh runs
# zt_ops_check (CUDA op tables vs the CPU table) and the training runs.
if(NOT ZT_HAVE_CUDA)
  return()
endif()

add_executable(zt_ops_check ${CMAKE_CURRENT_LIST_DIR}/ops_check.c)
target_link_libraries(zt_ops_check PRIVATE zt_trainer CUDA::cudart)

# gpu-build: the CUDA objects exist and are LINKED (a weak reference alone
# does not pull ops_cuda.o out of the static library), for sm_90 SASS + PTX.
add_test(NAME gpu_build
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_build.sh
          $<TARGET_FILE:ztrain> $<TARGET_FILE:zt_trainer> $<TARGET_FILE:zt_ops_check>)
set_tests_properties(gpu_build PROPERTIES LABELS gpu-build TIMEOUT 120)
