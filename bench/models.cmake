# 1-rank model throughput (issue 3): bench/models.sh runs model_bench next to
# bench/torch_ref.py (PyTorch, same model, batch, threads and data).
add_executable(model_bench ${CMAKE_CURRENT_SOURCE_DIR}/model_bench.c)
target_link_libraries(model_bench PRIVATE zt_trainer m)
