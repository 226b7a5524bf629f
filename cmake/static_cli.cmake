# TREECOPY_STATIC_CLI: the treecopy command without the shared libstdc++ and libtbb.
#
# Why: a build tool may run the command thousands of times, and most of a small copy's cost is the
# dynamic loader relocating libstdc++'s symbols (libtbb.so needs libstdc++.so, so both must go).
# The command links its own static copy of libtreecopy, a static oneTBB built here from Debian's
# source package of the installed libtbb-dev (scripts/onetbb-source.sh; the same version, so the
# same behaviour) and -static-libstdc++ -static-libgcc; libc and libm stay shared. oneTBB warns
# that a static libtbb is unsupported: two copies of its scheduler in one process would not know
# of each other. The command links no other user of oneTBB (the shared libtreecopy, the Python
# module and treecopy-mpi keep the system's libtbb.so), so it has one.
#
# The static oneTBB is built once per build tree and oneTBB version (in onetbb-static/, ~25 s), or
# taken from TREECOPY_TBB_STATIC_PREFIX (a prefix with lib/libtbb.a and include/). When it cannot
# be had (no network for the source), the command is linked as before, with one warning, and the
# option is turned off in the cache (-DTREECOPY_STATIC_CLI=ON tries again).
#
# Sets treecopy_static_cli (ON when the static command is built), the imported target
# treecopy_tbb_static and treecopy_tbb_static_version.

set(TREECOPY_TBB_STATIC_PREFIX "" CACHE PATH
    "A static oneTBB (lib/libtbb.a, include/) for TREECOPY_STATIC_CLI; empty: built in the build tree")

# Builds the static oneTBB into <dir>/prefix unless it is there for the installed version; sets
# <out> to the prefix, or to "" with the reason in <why>.
function(treecopy_build_static_tbb dir out why)
  set(${out} "" PARENT_SCOPE)
  execute_process(COMMAND dpkg-query -W -f=\${source:Version} libtbb-dev
                  OUTPUT_VARIABLE version RESULT_VARIABLE status ERROR_QUIET)
  if(NOT status EQUAL 0 OR version STREQUAL "")
    set(${why} "libtbb-dev's version is unknown (not a Debian system?)" PARENT_SCOPE)
    return()
  endif()
  # What was built: the version and how (a change of the options below rebuilds it).
  set(recipe "${version} without-weak-symbols")
  set(prefix ${dir}/prefix)
  if(EXISTS ${prefix}/.version)
    file(READ ${prefix}/.version built)
    if(built STREQUAL recipe AND EXISTS ${prefix}/lib/libtbb.a)
      set(${out} ${prefix} PARENT_SCOPE)
      return()
    endif()
  endif()
  message(STATUS "TREECOPY_STATIC_CLI: fetching and building a static oneTBB ${version} in ${dir}")
  execute_process(COMMAND ${PROJECT_SOURCE_DIR}/scripts/onetbb-source.sh ${dir}
                  OUTPUT_VARIABLE tree OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_VARIABLE fetch_error RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    # apt's last line says why (no network: no deb-src URIs could be read).
    string(STRIP "${fetch_error}" fetch_error)
    string(REGEX REPLACE ".*\n" "" fetch_error "${fetch_error}")
    set(${why} "oneTBB's source could not be fetched (${fetch_error}; ${dir}/apt.log)" PARENT_SCOPE)
    return()
  endif()
  set(launcher "")
  if(CMAKE_CXX_COMPILER_LAUNCHER)
    set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER})
  endif()
  file(REMOVE_RECURSE ${dir}/build ${prefix})
  # Position-independent: the command is a PIE (Debian's default). No tbbmalloc (unused), no hwloc
  # (tbbbind is a plugin loaded at run time; a static oneTBB cannot load it). No weak symbols: a
  # static oneTBB still looks for libtbbmalloc, libirml (its thread server) and libiomp5 through
  # dlopen(RTLD_NOLOAD), which it can only find loaded by someone else, and which cost the start of
  # every pool ~40 failed opens of the library path (~0.2 ms); without them it uses what it falls
  # back to anyway: malloc and its own threads.
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${tree} -B ${dir}/build -DCMAKE_BUILD_TYPE=Release
            -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} ${launcher}
            -DCMAKE_CXX_FLAGS=-D__TBB_WEAK_SYMBOLS_PRESENT=0
            -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DTBBMALLOC_BUILD=OFF
            -DTBB_TEST=OFF -DTBB_EXAMPLES=OFF -DTBB_STRICT=OFF -DTBB_DISABLE_HWLOC_AUTOMATIC_SEARCH=ON
            -DCMAKE_INSTALL_PREFIX=${prefix} -DCMAKE_INSTALL_LIBDIR=lib
    OUTPUT_FILE ${dir}/build.log ERROR_FILE ${dir}/build.log RESULT_VARIABLE status)
  if(status EQUAL 0)
    include(ProcessorCount)
    ProcessorCount(jobs)
    execute_process(COMMAND ${CMAKE_COMMAND} --build ${dir}/build -j ${jobs} --target install
                    OUTPUT_FILE ${dir}/build.log ERROR_FILE ${dir}/build.log RESULT_VARIABLE status)
  endif()
  if(NOT status EQUAL 0 OR NOT EXISTS ${prefix}/lib/libtbb.a)
    set(${why} "the static oneTBB did not build (${dir}/build.log)" PARENT_SCOPE)
    return()
  endif()
  file(WRITE ${prefix}/.version "${recipe}")
  set(${out} ${prefix} PARENT_SCOPE)
endfunction()

set(treecopy_static_cli OFF)
if(TREECOPY_STATIC_CLI)
  set(treecopy_tbb_prefix "${TREECOPY_TBB_STATIC_PREFIX}")
  set(treecopy_tbb_why "")
  if(treecopy_tbb_prefix STREQUAL "")
    treecopy_build_static_tbb(${PROJECT_BINARY_DIR}/onetbb-static treecopy_tbb_prefix treecopy_tbb_why)
  elseif(NOT EXISTS ${treecopy_tbb_prefix}/lib/libtbb.a)
    set(treecopy_tbb_why "${treecopy_tbb_prefix}/lib/libtbb.a does not exist")
    set(treecopy_tbb_prefix "")
  endif()
  if(treecopy_tbb_prefix STREQUAL "")
    # Turned off in the cache, so that each later configure does not try (and wait on apt) again.
    set(TREECOPY_STATIC_CLI OFF CACHE BOOL
        "Link the treecopy command without the shared libstdc++ and libtbb (faster start-up)" FORCE)
    message(WARNING "TREECOPY_STATIC_CLI: ${treecopy_tbb_why}. The treecopy command links the shared "
                    "libstdc++ and libtbb instead (it starts slower); -DTREECOPY_STATIC_CLI=ON tries again.")
  else()
    add_library(treecopy_tbb_static STATIC IMPORTED)
    set_target_properties(treecopy_tbb_static PROPERTIES
      IMPORTED_LOCATION ${treecopy_tbb_prefix}/lib/libtbb.a
      INTERFACE_INCLUDE_DIRECTORIES ${treecopy_tbb_prefix}/include
      INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS}")
    set(treecopy_tbb_static_version "")
    file(GLOB treecopy_tbb_version_file ${treecopy_tbb_prefix}/lib/cmake/*/TBBConfigVersion.cmake)
    if(treecopy_tbb_version_file)
      file(STRINGS ${treecopy_tbb_version_file} treecopy_tbb_version_line
           REGEX "set\\(PACKAGE_VERSION \"[0-9.]+\"\\)")
      string(REGEX MATCH "[0-9.]+" treecopy_tbb_static_version "${treecopy_tbb_version_line}")
    endif()
    message(STATUS "TREECOPY_STATIC_CLI: the treecopy command links oneTBB ${treecopy_tbb_static_version} "
                   "from ${treecopy_tbb_prefix} and libstdc++ statically")
    set(treecopy_static_cli ON)
  endif()
endif()
