add_executable(zt_info_probe ${CMAKE_CURRENT_LIST_DIR}/zt_info_probe.c)
target_link_libraries(zt_info_probe PRIVATE zt_launcher MPI::MPI_C)
