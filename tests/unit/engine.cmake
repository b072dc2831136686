# Unit tests of the engine's communication plan (trainer/partition.c) and of
# resuming at steps above 2^24 through checkpoint/: Criterion, label `unit`,
# no processes.
if(CRITERION_FOUND)
  add_executable(test_engine_plan ${CMAKE_CURRENT_SOURCE_DIR}/unit/engine_plan.c)
  target_link_libraries(test_engine_plan PRIVATE zt_trainer PkgConfig::CRITERION m)
  add_test(NAME unit_engine_plan COMMAND test_engine_plan --jobs=2)
  set_tests_properties(unit_engine_plan PROPERTIES LABELS unit TIMEOUT 300)

  add_executable(test_engine_bigstep ${CMAKE_CURRENT_SOURCE_DIR}/unit/engine_bigstep.c
    ${CMAKE_CURRENT_SOURCE_DIR}/unit/ckpt_util.c)
  target_include_directories(test_engine_bigstep PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
  target_link_libraries(test_engine_bigstep PRIVATE zt_checkpoint PkgConfig::CRITERION)
  target_compile_definitions(test_engine_bigstep PRIVATE _GNU_SOURCE)
  add_test(NAME unit_engine_bigstep COMMAND test_engine_bigstep)
  set_tests_properties(unit_engine_bigstep PROPERTIES LABELS unit TIMEOUT 120)
endif()

# train.exact's fixed-point sums (trainer/exact.c) against float64
if(CRITERION_FOUND)
  add_executable(test_engine_exact ${CMAKE_CURRENT_SOURCE_DIR}/unit/engine_exact.c)
  target_link_libraries(test_engine_exact PRIVATE zt_trainer PkgConfig::CRITERION m)
  add_test(NAME unit_engine_exact COMMAND test_engine_exact --jobs=2)
  set_tests_properties(unit_engine_exact PROPERTIES LABELS unit TIMEOUT 120)
endif()
