# Checkpoint unit tests (issue 5): Criterion, label `unit`, one ctest per suite.
if(CRITERION_FOUND)
  set(_ck ${CMAKE_CURRENT_LIST_DIR})
  add_executable(test_ckpt
    ${_ck}/ckpt_util.c
    ${_ck}/ckpt_roundtrip.c
    ${_ck}/ckpt_vds.c
    ${_ck}/ckpt_corrupt.c
    ${_ck}/ckpt_commit.c
    ${_ck}/ckpt_diskfull.c
    ${_ck}/ckpt_cli.c
    ${_ck}/ckpt_format.c)
  target_link_libraries(test_ckpt PRIVATE zt_checkpoint PkgConfig::CRITERION Threads::Threads)
  target_compile_definitions(test_ckpt PRIVATE ZT_CK_TEST_DIR="${_ck}" _GNU_SOURCE)
  foreach(_suite roundtrip vds corrupt resolve layout commit diskfull cli format)
    add_test(NAME ckpt.${_suite} COMMAND test_ckpt --filter=${_suite}/*)
    set_tests_properties(ckpt.${_suite} PROPERTIES LABELS unit TIMEOUT 300)
  endforeach()
else()
  message(STATUS "ckpt unit tests: Criterion not found, not built")
endif()
# Named byte blobs in the index (the tokenizer a GPT checkpoint carries).
if(CRITERION_FOUND)
  add_executable(test_ckpt_blob ${CMAKE_CURRENT_LIST_DIR}/ckpt_util.c ${CMAKE_CURRENT_LIST_DIR}/ckpt_blob.c)
  target_link_libraries(test_ckpt_blob PRIVATE zt_checkpoint PkgConfig::CRITERION Threads::Threads)
  target_compile_definitions(test_ckpt_blob PRIVATE ZT_CK_TEST_DIR="${CMAKE_CURRENT_LIST_DIR}" _GNU_SOURCE)
  add_test(NAME ckpt.blob COMMAND test_ckpt_blob)
  set_tests_properties(ckpt.blob PROPERTIES LABELS unit TIMEOUT 120)
endif()
