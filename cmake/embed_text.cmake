# cmake -DINPUT=<text file> -DOUTPUT=<file.cc> -DNAMESPACE=<a::b> -DNAME=<kName> -P embed_text.cmake
# Writes OUTPUT, a C++ file defining `const std::string_view NAMESPACE::NAME` holding INPUT's
# bytes as one raw string literal: a text the binary needs (a bash template) stays a real file in
# the source tree, built in with CMake alone (no xxd or other tool).
foreach(arg INPUT OUTPUT NAMESPACE NAME)
  if(NOT DEFINED ${arg})
    message(FATAL_ERROR "embed_text.cmake: -D${arg}=... is missing")
  endif()
endforeach()
file(READ "${INPUT}" text)
set(delimiter "embed")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains )${delimiter}\", which would end the raw string literal early")
endif()
file(WRITE "${OUTPUT}"
  "// Generated from ${INPUT} by cmake/embed_text.cmake: edit that file, not this one.\n"
  "#include <string_view>\n\n"
  "namespace ${NAMESPACE} {\n"
  "extern const std::string_view ${NAME};\n"
  "const std::string_view ${NAME} = R\"${delimiter}(${text})${delimiter}\";\n"
  "}  // namespace ${NAMESPACE}\n")
