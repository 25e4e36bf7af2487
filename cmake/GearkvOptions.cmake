# Compiler flags shared by every gearkv target, and the helper that applies them.
include_guard(GLOBAL)

add_library(gearkv_build_flags INTERFACE)
target_compile_options(gearkv_build_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter ${GEARKV_CPU_FLAGS}>)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  target_compile_options(gearkv_build_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wthread-safety>)
endif()

if(GEARKV_FUZZ)
  # Coverage instrumentation everywhere; the fuzz targets link the libFuzzer driver.
  add_compile_options($<$<COMPILE_LANGUAGE:CXX,C>:-fsanitize=fuzzer-no-link>)
endif()

if(GEARKV_SANITIZE)
  message(STATUS "gearkv: sanitizers ${GEARKV_SANITIZE}")
  add_compile_options($<$<COMPILE_LANGUAGE:CXX,C>:-fsanitize=${GEARKV_SANITIZE}>
                      $<$<COMPILE_LANGUAGE:CXX,C>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:CXX,C>:-fno-sanitize-recover=all>)
  add_link_options(-fsanitize=${GEARKV_SANITIZE})
endif()

# gearkv_test(NAME SOURCES... LIBS ...) — a GoogleTest binary registered with CTest.
function(gearkv_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} gearkv_build_flags GTest::gtest GTest::gmock
                        GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
                       PROPERTIES LABELS "${ARG_LABELS}"
                       WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  list(LENGTH ARG_LABELS label_count)
  if(label_count GREATER 1)
    # gtest_discover_tests flattens a list in PROPERTIES ("unit;tsan" makes a property named
    # tsan), so set the labels once the tests are discovered.
    set(label_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
    file(WRITE ${label_file} "foreach(test IN LISTS ${name}_TESTS)
  set_tests_properties(\"\${test}\" PROPERTIES LABELS \"${ARG_LABELS}\")
endforeach()
")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${label_file})
  endif()
endfunction()
