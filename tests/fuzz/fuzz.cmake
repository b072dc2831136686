# Fuzz targets (libFuzzer) and their regression replays. Label `unit`.
#   fuzz_config   trainer/config.c: ini text + --set overrides
#   fuzz_dataset  datasets/loader.c: an HDF5 file opened as mnist/text, first batch
#   fuzz_ckpt     checkpoint/: index.h5 or a shard of a tiny real checkpoint,
#                 open + verify + layout check + read + resolve
# Every build (gcc included) gets replay_<t>: the same harness with a plain
# main() that runs every file of tests/fuzz/regress/<t> (inputs that once
# crashed) and tests/fuzz/corpus/<t> (the seeds): ctest fuzz.replay.<t>. With
# ZT_FUZZ=ON (clang; scripts/fuzz.sh) the libFuzzer binaries fuzz_<t> are built
# too. ckpt_seed writes tests/fuzz/ckpt_base (see ckpt_seed.c).
set(_fz ${CMAKE_CURRENT_LIST_DIR})
add_library(zt_fuzz_util STATIC ${_fz}/fuzz_util.c)
target_include_directories(zt_fuzz_util PUBLIC ${_fz})

set(ZT_FUZZ_TARGETS config dataset ckpt)
set(_fz_libs_config zt_trainer)
set(_fz_libs_dataset zt_datasets)
set(_fz_libs_ckpt zt_checkpoint)

foreach(t ${ZT_FUZZ_TARGETS})
  add_executable(replay_${t} ${_fz}/replay_main.c ${_fz}/fuzz_${t}.c)
  target_link_libraries(replay_${t} PRIVATE zt_fuzz_util ${_fz_libs_${t}})
  target_compile_definitions(replay_${t} PRIVATE ZT_FUZZ_CKPT_BASE="${_fz}/ckpt_base")
  add_test(NAME fuzz.replay.${t} COMMAND replay_${t} ${_fz}/regress/${t} ${_fz}/corpus/${t})
  # as in scripts/fuzz.sh: an absurd malloc (HDF5 on a damaged length) returns
  # NULL under ASan as it does with glibc; HDF5's own leaks are suppressed
  set_tests_properties(fuzz.replay.${t} PROPERTIES LABELS unit TIMEOUT 120
    PASS_REGULAR_EXPRESSION "replay: [0-9]+ inputs?, no crash"
    ENVIRONMENT_MODIFICATION
      "ASAN_OPTIONS=string_append::allocator_may_return_null=1;LSAN_OPTIONS=set:suppressions=${_fz}/lsan.supp:print_suppressions=0")
  if(ZT_FUZZ)
    add_executable(fuzz_${t} ${_fz}/fuzz_${t}.c)
    target_link_libraries(fuzz_${t} PRIVATE zt_fuzz_util ${_fz_libs_${t}})
    target_compile_definitions(fuzz_${t} PRIVATE ZT_FUZZ_CKPT_BASE="${_fz}/ckpt_base")
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()

add_executable(ckpt_seed ${_fz}/ckpt_seed.c)
target_link_libraries(ckpt_seed PRIVATE zt_checkpoint)
