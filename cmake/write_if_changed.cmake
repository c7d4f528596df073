# write_if_changed(PATH CONTENT): writes PATH only when its text would change, so that what
# depends on a generated file does not rebuild needlessly. Shared by the embed_*.cmake scripts.
function(write_if_changed path content)
  if(EXISTS "${path}")
    file(READ "${path}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${path}" "${content}")
endfunction()
