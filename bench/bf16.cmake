# bf16 on the CPU (bench/bf16.sh): matrix-product rates of the fp32 and bf16 op tables
add_executable(bf16_matmul ${CMAKE_CURRENT_SOURCE_DIR}/bf16_matmul.c)
target_link_libraries(bf16_matmul PRIVATE zt_trainer)
