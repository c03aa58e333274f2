# Installs the build into a scratch prefix and runs the installed binary with an empty
# environment: it must find libduckdb.so through its rpath ($ORIGIN/../lib), not the build tree.
set(prefix "${BUILD_DIR}/install-test")
file(REMOVE_RECURSE "${prefix}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
execute_process(COMMAND env -i "${prefix}/bin/backfill" --warehouse "${prefix}/wh" --as tester init
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "Created warehouse")
  message(FATAL_ERROR "installed backfill did not run (exit ${rc}): ${out} ${err}")
endif()
execute_process(COMMAND env -i "${prefix}/bin/backfill" --warehouse "${prefix}/wh" --as tester project create p
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "installed backfill could not use DuckDB (exit ${rc}): ${out} ${err}")
endif()
file(REMOVE_RECURSE "${prefix}")
message(STATUS "installed binary runs: ${out}")
