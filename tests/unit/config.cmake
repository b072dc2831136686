# Unit tests of the config layer, the learning-rate schedules and the
# checkpoint-root lock (label `unit`).
if(CRITERION_FOUND)
  add_executable(test_config ${CMAKE_CURRENT_SOURCE_DIR}/unit/config_test.c)
  target_link_libraries(test_config PRIVATE zt_trainer PkgConfig::CRITERION m)
  add_test(NAME unit_config COMMAND test_config --jobs=2)
  set_tests_properties(unit_config PROPERTIES LABELS unit TIMEOUT 60)

  add_executable(test_ckpt_lock ${CMAKE_CURRENT_SOURCE_DIR}/unit/ckpt_lock.c)
  target_link_libraries(test_ckpt_lock PRIVATE zt_checkpoint PkgConfig::CRITERION)
  add_test(NAME unit_ckpt_lock COMMAND test_ckpt_lock --jobs=1)
  set_tests_properties(unit_ckpt_lock PROPERTIES LABELS unit TIMEOUT 60)
endif()
