# Cost-model measurements (issue 16): bench/cost_measure.sh runs cost_bench
# (per-unit forward/backward, AdamW per parameter, collectives at 4 KB-256 MB)
# and bench/cost_model.py predicts step and checkpoint times from them.
add_executable(cost_bench ${CMAKE_CURRENT_LIST_DIR}/cost_bench.c)
target_link_libraries(cost_bench PRIVATE zt_trainer MPI::MPI_C m)
