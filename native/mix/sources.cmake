# The mixed coder's sources (coding method 2, docs/MIXING.md), compiled into
# lmzip_engine by the top-level CMakeLists.txt: native/coding.cpp's make_predictor
# needs them and they need the engine's range coder.
set(LMZIP_MIX_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/fixed_point.cpp
  ${CMAKE_CURRENT_LIST_DIR}/adaptive.cpp
  ${CMAKE_CURRENT_LIST_DIR}/lm_table.cpp
  ${CMAKE_CURRENT_LIST_DIR}/context_table.cpp
  ${CMAKE_CURRENT_LIST_DIR}/match_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/contexts.cpp
  ${CMAKE_CURRENT_LIST_DIR}/params.cpp
  ${CMAKE_CURRENT_LIST_DIR}/predictor.cpp)
# Integer-only code, so vector instructions change speed, never results. x86-64
# builds of lmzip already require AVX2 (the llama.cpp baseline, docs/DETERMINISM.md).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64" AND NOT MSVC)
  set_source_files_properties(${LMZIP_MIX_SOURCES} PROPERTIES COMPILE_OPTIONS "-mavx2")
endif()
