# The ctest driver for tests/consumer (cmake -P): builds the consumer against treecopy -- installed
# into a temporary prefix (CONSUMER_MODE=find_package) or from its sources (add_subdirectory) --
# then copies a small tree with it and checks the copy, and that bad input exits with code 2.
# As a subdirectory, treecopy must also leave the parent's cache alone: its build type (given or
# not) and BUILD_SHARED_LIBS are the parent's to choose.
cmake_minimum_required(VERSION 3.22)

foreach(var WORK_DIR CONSUMER_SOURCE_DIR CONSUMER_MODE TREECOPY_SOURCE_DIR TREECOPY_BUILD_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer_test.cmake needs -D${var}=...")
  endif()
endforeach()
if(NOT CONSUMER_CONFIG)
  set(CONSUMER_CONFIG Release)
endif()

# Runs a command; fails the test with its output unless it exits with `expect` (default 0).
function(run_checked)
  cmake_parse_arguments(arg "" "EXPECT" "COMMAND" ${ARGN})
  if(NOT DEFINED arg_EXPECT)
    set(arg_EXPECT 0)
  endif()
  execute_process(COMMAND ${arg_COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL arg_EXPECT)
    message(FATAL_ERROR "`${arg_COMMAND}` exited with ${rc}, expected ${arg_EXPECT}\n"
                        "stdout:\n${out}\nstderr:\n${err}")
  endif()
  set(run_stdout "${out}" PARENT_SCOPE)
  set(run_stderr "${err}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

if(CONSUMER_MODE STREQUAL "find_package")
  set(prefix ${WORK_DIR}/prefix)
  run_checked(COMMAND ${CMAKE_COMMAND} --install ${TREECOPY_BUILD_DIR} --prefix ${prefix}
                      --config ${CONSUMER_CONFIG})
  foreach(expected include/treecopy/treecopy.hpp bin/treecopy)
    if(NOT EXISTS ${prefix}/${expected})
      message(FATAL_ERROR "cmake --install did not install ${expected}")
    endif()
  endforeach()
  file(GLOB_RECURSE config_files ${prefix}/*/treecopyConfig.cmake ${prefix}/*/treecopyConfigVersion.cmake)
  list(LENGTH config_files config_count)
  if(NOT config_count EQUAL 2)
    message(FATAL_ERROR "package config files not installed: found '${config_files}'")
  endif()
  # The public headers must not need TBB.
  file(GLOB_RECURSE headers ${prefix}/include/treecopy/*)
  foreach(header IN LISTS headers)
    file(STRINGS ${header} tbb_lines REGEX "#include.*tbb")
    if(tbb_lines)
      message(FATAL_ERROR "${header} includes TBB: ${tbb_lines}")
    endif()
  endforeach()
  # The installed tool runs from the prefix (it finds libtreecopy through its RPATH).
  run_checked(COMMAND ${prefix}/bin/treecopy --version)
  set(configure_args -DCMAKE_PREFIX_PATH=${prefix})
elseif(CONSUMER_MODE STREQUAL "add_subdirectory")
  set(configure_args -DTREECOPY_SOURCE_DIR=${TREECOPY_SOURCE_DIR})
else()
  message(FATAL_ERROR "CONSUMER_MODE must be find_package or add_subdirectory")
endif()

set(generator_args)
if(CONSUMER_GENERATOR)
  set(generator_args -G ${CONSUMER_GENERATOR})
endif()
run_checked(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build ${generator_args}
                    -DCMAKE_BUILD_TYPE=${CONSUMER_CONFIG} ${configure_args})
# The value of a variable in a CMakeCache.txt, or "<unset>".
function(cached_value cache_file name out)
  file(STRINGS ${cache_file} lines REGEX "^${name}:[A-Z]+=")
  if(lines)
    string(REGEX REPLACE "^${name}:[A-Z]+=" "" value "${lines}")
  else()
    set(value "<unset>")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

if(CONSUMER_MODE STREQUAL "add_subdirectory")
  cached_value(${WORK_DIR}/build/CMakeCache.txt CMAKE_BUILD_TYPE build_type)
  cached_value(${WORK_DIR}/build/CMakeCache.txt BUILD_SHARED_LIBS shared)
  if(NOT build_type STREQUAL CONSUMER_CONFIG OR NOT shared STREQUAL "<unset>")
    message(FATAL_ERROR "treecopy changed its parent's cache: CMAKE_BUILD_TYPE '${build_type}' "
                        "(given: ${CONSUMER_CONFIG}), BUILD_SHARED_LIBS '${shared}' (given: none)")
  endif()
  # A parent that sets no build type keeps none; one that asks for static or shared libraries
  # gets a treecopy of that kind.
  foreach(shared_libs OFF ON)
    set(probe ${WORK_DIR}/probe-shared-${shared_libs})
    run_checked(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${probe} ${generator_args}
                        -DBUILD_SHARED_LIBS=${shared_libs} ${configure_args})
    cached_value(${probe}/CMakeCache.txt CMAKE_BUILD_TYPE build_type)
    if(NOT build_type STREQUAL "" AND NOT build_type STREQUAL "<unset>")
      message(FATAL_ERROR "treecopy set its parent's CMAKE_BUILD_TYPE to '${build_type}'")
    endif()
    set(expected_type STATIC_LIBRARY)
    if(shared_libs)
      set(expected_type SHARED_LIBRARY)
    endif()
    if(NOT run_stdout MATCHES "treecopy library type: ${expected_type}")
      message(FATAL_ERROR "BUILD_SHARED_LIBS=${shared_libs} in the parent, but:\n${run_stdout}")
    endif()
  endforeach()
endif()

run_checked(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build --config ${CONSUMER_CONFIG} --parallel 2)
set(consumer ${WORK_DIR}/build/consumer)
if(NOT EXISTS ${consumer})
  set(consumer ${WORK_DIR}/build/${CONSUMER_CONFIG}/consumer)
endif()

# A small tree: nested directories, an empty one, a name with a space, a symlink.
set(src ${WORK_DIR}/tree)
set(dst ${WORK_DIR}/copy)
file(WRITE ${src}/top.txt "top\n")
file(WRITE "${src}/with space/inner.txt" "inner\n")
file(WRITE ${src}/a/b/c/deep.txt "deep\n")
file(MAKE_DIRECTORY ${src}/empty)
file(CREATE_LINK top.txt ${src}/link SYMBOLIC)

run_checked(COMMAND ${consumer} ${src} ${dst})
if(NOT run_stdout MATCHES "copied 10 entries \\(15 bytes\\), 0 errors")
  message(FATAL_ERROR "unexpected consumer output:\n${run_stdout}")
endif()
run_checked(COMMAND diff -r --no-dereference ${src} ${dst})
file(READ_SYMLINK ${dst}/link link_target)
if(NOT link_target STREQUAL "top.txt")
  message(FATAL_ERROR "symlink copied as '${link_target}'")
endif()

# Bad input: the destination exists now, so the copy must be refused before it starts.
run_checked(COMMAND ${consumer} ${src} ${dst} EXPECT 2)
if(NOT run_stderr MATCHES "treecopy: ")
  message(FATAL_ERROR "no setup error reported:\n${run_stderr}")
endif()
message(STATUS "consumer (${CONSUMER_MODE}) copied the tree and refused an existing destination")
