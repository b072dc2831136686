add_executable(deadrank ${CMAKE_CURRENT_LIST_DIR}/deadrank.c)
target_link_libraries(deadrank PRIVATE zt_launcher MPI::MPI_C)
