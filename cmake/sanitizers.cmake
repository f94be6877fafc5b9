# COLONY_SANITIZE=address,undefined or thread. Applied to everything we build,
# so the test binary, the child scenarios it re-runs and the library agree.
set(COLONY_SANITIZE "" CACHE STRING "Sanitizers: address,undefined | thread | empty")
if(COLONY_SANITIZE)
  add_compile_options(-fsanitize=${COLONY_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${COLONY_SANITIZE})
  if(COLONY_SANITIZE MATCHES "thread")
    # TSan does not model std::atomic_thread_fence; the rings' fences pair
    # with seq_cst accesses the sanitizer does see, so silence the notice.
    add_compile_options(-Wno-tsan)
  endif()
endif()
