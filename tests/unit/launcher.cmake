# Unit tests of launcher/ (label unit): parsing, singleton fallback, signals,
# and the ztrain-launch front script (dry-run + a real mpirun -n 1/2).
if(NOT TARGET PkgConfig::CRITERION)
  message(WARNING "Criterion not found: launcher unit tests are not built (apt-get install libcriterion-dev)")
  return()
endif()

add_executable(launcher_test ${CMAKE_CURRENT_LIST_DIR}/launcher_test.c)
target_link_libraries(launcher_test PRIVATE zt_launcher PkgConfig::CRITERION)
add_test(NAME launcher_unit COMMAND launcher_test --jobs 2)
set_tests_properties(launcher_unit PROPERTIES LABELS unit TIMEOUT 60)

add_executable(launcher_launch_test ${CMAKE_CURRENT_LIST_DIR}/launcher_launch_test.c)
target_compile_definitions(launcher_launch_test PRIVATE
  ZT_LAUNCH_SCRIPT="${CMAKE_SOURCE_DIR}/launcher/ztrain-launch")
target_link_libraries(launcher_launch_test PRIVATE PkgConfig::CRITERION)
# --jobs 1: the mpirun cases are heavier than the rest; keep them serial.
add_test(NAME launcher_launch COMMAND launcher_launch_test --jobs 1)
set_tests_properties(launcher_launch PROPERTIES LABELS unit TIMEOUT 120)
