# Writes OUTPUT, a header holding sendgate's Redis function library: every file of SOURCES
# (library.lua first) in one Lua chunk, named by its version, a digest of that chunk, so that
# no digest code is needed at run time. Constants: kLibrarySource (what FUNCTION LOAD gets),
# kLibraryVersion, and for each file of FUNCTIONS (each registers the function of its name)
# kNameFunction, the name FCALL calls it by: decide.lua -> kDecideFunction = "decide_<version>".
# Lua 5.1 has no named constant: a contract constant C.NAME is an upvalue and a lookup by name
# on each use (about 100 instructions in Redis), a file's `local NAME = 12` an upvalue in each
# function that uses it, where a literal costs nothing (docs/redis.md, "Lua's costs"). So:
# - in each file, a line `local NAME = <integer>` (NAME in capitals) declares a constant of
#   that file: the line becomes a comment and each use of NAME in the file is written as its
#   value;
# - every use of C.NAME (CONTRACT: contract.lua) is written as its value.
set(body "")
foreach(file ${SOURCES})
  file(READ ${file} text)
  file(STRINGS ${file} declarations REGEX "^local [A-Z][A-Z0-9_]* = [0-9]+$")
  foreach(declaration ${declarations})
    string(REGEX REPLACE "^local ([A-Z0-9_]+) = ([0-9]+)$" "\\1" name "${declaration}")
    string(REGEX REPLACE "^local ([A-Z0-9_]+) = ([0-9]+)$" "\\2" value "${declaration}")
    string(REPLACE "\n${declaration}\n" "\n-- constant ${value}: written where it is used\n" text
           "${text}")
    # Twice: a use right after another, one character apart, is left by the first pass.
    foreach(pass 1 2)
      string(REGEX REPLACE "([^A-Za-z0-9_.])${name}([^A-Za-z0-9_])" "\\1${value}\\2" text
             "${text}")
    endforeach()
  endforeach()
  string(APPEND body "${text}\n")
endforeach()
file(STRINGS ${CONTRACT} constants REGEX "^  [A-Z][A-Z0-9_]* = [^;]*,$")
foreach(constant ${constants})
  string(REGEX REPLACE "^  ([A-Z0-9_]+) = (.*),$" "\\1" name "${constant}")
  string(REGEX REPLACE "^  ([A-Z0-9_]+) = (.*),$" "\\2" value "${constant}")
  if(value MATCHES "^-")
    set(value "(${value})")  # a - before it would make a comment
  endif()
  string(REGEX REPLACE "C\\.${name}([^A-Za-z0-9_])" "${value}\\1" body "${body}")
endforeach()
string(REGEX MATCH "C\\.[A-Z][A-Z0-9_]*" unknown "${body}")
if(unknown)
  message(FATAL_ERROR "${unknown}: not a constant of contract.lua")
endif()
string(SHA1 digest "${body}")
string(SUBSTRING ${digest} 0 16 version)
set(source "#!lua name=sendgate_${version}\nlocal LIBRARY_VERSION = '${version}'\n${body}")
set(content "// Generated from service/store/*.lua by embed_library.cmake. Do not edit.\n#pragma once\nnamespace sendgate::store {\n")
string(APPEND content "inline constexpr char kLibrarySource[] = R\"lua(${source})lua\";\n")
string(APPEND content "inline constexpr char kLibraryVersion[] = \"${version}\";\n")
foreach(file ${FUNCTIONS})
  get_filename_component(stem ${file} NAME_WE)
  string(REGEX MATCHALL "[^_]+" words ${stem})
  set(name "")
  foreach(word ${words})
    string(SUBSTRING ${word} 0 1 first)
    string(TOUPPER ${first} first)
    string(SUBSTRING ${word} 1 -1 rest)
    string(APPEND name "${first}${rest}")
  endforeach()
  string(APPEND content "inline constexpr char k${name}Function[] = \"${stem}_${version}\";\n")
endforeach()
string(APPEND content "}  // namespace sendgate::store\n")
file(WRITE ${OUTPUT} "${content}")
