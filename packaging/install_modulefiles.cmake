# install_modulefiles.cmake — part of `cmake --install`: writes the Tcl
# (environment-modules) and Lua (Lmod) modulefiles with the install prefix
# filled in, as share/ztrain/modulefiles/ztrain/<version>[.lua]. ZT_SRC,
# ZT_VER and ZT_DATADIR are set by the install(CODE) line just before this.
# With CPack the prefix is the package's (/usr), DESTDIR the staging root.
set(prefix "${CMAKE_INSTALL_PREFIX}")
set(dir "${prefix}/${ZT_DATADIR}/ztrain/modulefiles/ztrain")
foreach(kind tcl lua)
  file(READ "${ZT_SRC}/packaging/modulefiles/ztrain.${kind}" t)
  string(REPLACE "@ZT_PREFIX@" "${prefix}" t "${t}")
  string(REPLACE "@ZT_VERSION@" "${ZT_VER}" t "${t}")
  if(kind STREQUAL "lua")
    set(dst "${dir}/${ZT_VER}.lua")
  else()
    set(dst "${dir}/${ZT_VER}")
  endif()
  message(STATUS "Installing: $ENV{DESTDIR}${dst}")
  file(WRITE "$ENV{DESTDIR}${dst}" "${t}")
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${dst}")
endforeach()
