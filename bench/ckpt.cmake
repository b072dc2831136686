# Checkpoint I/O benchmark (issue 5): bench/ckpt.sh runs it.
add_executable(ckpt_bench ${CMAKE_CURRENT_LIST_DIR}/ckpt_bench.c)
target_link_libraries(ckpt_bench PRIVATE zt_checkpoint)
# Checkpoint format at scale (issue 16): bench/ckpt_scale.sh runs it.
add_executable(ckpt_scale ${CMAKE_CURRENT_LIST_DIR}/ckpt_scale.c)
target_link_libraries(ckpt_scale PRIVATE zt_checkpoint)
