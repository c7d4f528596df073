# cmake -DSIDECAR=path/to/sidecar -DDIR=out -P write_completions.cmake: the three completion
# scripts, as `sidecar completion SHELL` prints them (see cmake/package.cmake).
file(MAKE_DIRECTORY ${DIR})
foreach(pair "bash;sidecar" "zsh;_sidecar" "fish;sidecar.fish")
  list(GET pair 0 shell)
  list(GET pair 1 name)
  execute_process(COMMAND ${SIDECAR} completion ${shell} OUTPUT_FILE ${DIR}/${name} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "sidecar completion ${shell} failed (${status})")
  endif()
endforeach()
