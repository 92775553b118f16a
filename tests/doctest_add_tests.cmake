# Replaces doctest's doctestAddTests.cmake (2.4.9) for doctest_discover_tests(... ADD_LABELS 1):
# the same CTest tests and labels, from one run of the test binary (`--list-test-cases
# --reporters=xml` names each test case's suite) instead of one run per test case. Under ASan a
# run costs about 0.3 s: doctest's way took 4 minutes of the ASan build for 800 test cases.
# Takes the variables doctest.cmake passes (-D TEST_EXECUTABLE=… -P this file); TEST_SPEC and
# TEST_JUNIT_OUTPUT_DIR, which tests/CMakeLists.txt does not use, are refused.
if(NOT "${TEST_SPEC}" STREQUAL "" OR NOT "${TEST_JUNIT_OUTPUT_DIR}" STREQUAL "")
  message(FATAL_ERROR "tests/doctest_add_tests.cmake: TEST_SPEC and JUNIT_OUTPUT_DIR unsupported")
endif()
if(NOT EXISTS "${TEST_EXECUTABLE}")
  message(FATAL_ERROR "Specified test executable '${TEST_EXECUTABLE}' does not exist")
endif()

execute_process(
  COMMAND ${TEST_EXECUTOR} "${TEST_EXECUTABLE}" --list-test-cases --reporters=xml
  OUTPUT_VARIABLE output
  RESULT_VARIABLE result
  WORKING_DIRECTORY "${TEST_WORKING_DIR}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "Error running test executable '${TEST_EXECUTABLE}':\n"
                      "  Result: ${result}\n  Output: ${output}\n")
endif()

# As doctestAddTests.cmake: bracket arguments for anything but plain words.
set(script "")
function(add_command name)
  set(args "")
  foreach(arg ${ARGN})
    if(arg MATCHES "[^-./:a-zA-Z0-9_]")
      string(APPEND args " [==[${arg}]==]")
    else()
      string(APPEND args " ${arg}")
    endif()
  endforeach()
  set(script "${script}${name}(${args})\n" PARENT_SCOPE)
endfunction()

function(xml_unescape out text)
  string(REPLACE "&lt;" "<" text "${text}")
  string(REPLACE "&gt;" ">" text "${text}")
  string(REPLACE "&quot;" "\"" text "${text}")
  string(REPLACE "&apos;" "'" text "${text}")
  string(REPLACE "&amp;" "&" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

set(tests "")
string(REGEX MATCHALL "<TestCase [^\n]*/>" cases "${output}")
foreach(case IN LISTS cases)
  if(NOT case MATCHES " name=\"([^\"]*)\"")
    message(FATAL_ERROR "no name in ${case}")
  endif()
  xml_unescape(test "${CMAKE_MATCH_1}")
  set(labels "")
  if(TEST_ADD_LABELS AND case MATCHES " testsuite=\"([^\"]+)\"")
    xml_unescape(labels "${CMAKE_MATCH_1}")
  endif()
  # escaped commas, as doctest does (though a comma in a name makes CTest run nothing for it)
  string(REPLACE "," "\\," test_name "${test}")
  add_command(add_test "${TEST_PREFIX}${test}${TEST_SUFFIX}" ${TEST_EXECUTOR}
              "${TEST_EXECUTABLE}" "--test-case=${test_name}" ${TEST_EXTRA_ARGS})
  add_command(set_tests_properties "${TEST_PREFIX}${test}${TEST_SUFFIX}" PROPERTIES
              WORKING_DIRECTORY "${TEST_WORKING_DIR}" ${TEST_PROPERTIES} LABELS ${labels})
  list(APPEND tests "${TEST_PREFIX}${test}${TEST_SUFFIX}")
endforeach()
add_command(set ${TEST_LIST} ${tests})
file(WRITE "${CTEST_FILE}" "${script}")
