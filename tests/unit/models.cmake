# Unit tests of the models, ops and optimizers. Criterion, label `unit`.
# (included from tests/CMakeLists.txt: CMAKE_CURRENT_SOURCE_DIR is tests/)
if(CRITERION_FOUND)
  foreach(t model_ops model_models optim_ref model_cnn)
    add_executable(test_${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/${t}.c)
    target_include_directories(test_${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
    target_link_libraries(test_${t} PRIVATE zt_trainer PkgConfig::CRITERION m)
    add_test(NAME unit_${t} COMMAND test_${t} --jobs=2)
    # one BLAS thread: the tests are tiny, and the results must not depend on it
    set_tests_properties(unit_${t} PROPERTIES LABELS unit TIMEOUT 120
      ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
  endforeach()
else()
  message(WARNING "Criterion not found: model/optimizer unit tests are not built")
endif()
