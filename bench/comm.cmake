# Collectives benchmark (issue 2): bench/comm.sh runs comm_bench under mpirun:
# all-reduce bus bandwidth of the comm layer next to raw MPI_Allreduce.
add_executable(comm_bench ${CMAKE_CURRENT_SOURCE_DIR}/comm_bench.c)
target_link_libraries(comm_bench PRIVATE zt_trainer MPI::MPI_C m)
get_target_property(_zt_launcher_type zt_launcher TYPE)
if(_zt_launcher_type STREQUAL "INTERFACE_LIBRARY")
  # launcher/ not built yet: stub the launcher symbols the comm layer uses
  set(_stub ${CMAKE_CURRENT_BINARY_DIR}/comm_bench_launcher_stub.c)
  file(WRITE ${_stub} "#include <stddef.h>
int zt_boot_peer_failed(void) { return 0; }
int zt_boot_put(const char *k, const void *b, size_t n) { return -1; }
int zt_boot_commit(void) { return -1; }
int zt_boot_fence(int c) { return -1; }
int zt_boot_get(int r, const char *k, void *b, size_t cap, size_t *got) { return -1; }
")
  target_sources(comm_bench PRIVATE ${_stub})
endif()
