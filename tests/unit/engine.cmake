# Unit tests of the engine's communication plan (trainer/partition.c):
# Criterion, label `unit`, no processes.
if(CRITERION_FOUND)
  add_executable(test_engine_plan ${CMAKE_CURRENT_SOURCE_DIR}/unit/engine_plan.c)
  target_link_libraries(test_engine_plan PRIVATE zt_trainer PkgConfig::CRITERION m)
  add_test(NAME unit_engine_plan COMMAND test_engine_plan --jobs=2)
  set_tests_properties(unit_engine_plan PROPERTIES LABELS unit TIMEOUT 300)
endif()
