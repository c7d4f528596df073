// Closing every descriptor a child would otherwise inherit. A program that starts Sidecar may
// leave descriptors open without close-on-exec (`exec 7<somedir; sidecar run …`, a terminal, a
// socket, a make jobserver); an agent that found one could walk out of its sandbox through
// /proc/self/fd/7/.. or write raw bytes to a terminal. So a child keeps only what Sidecar hands it
// on purpose (0, 1, 2 and, when asked, 3), whatever the caller left open.
#pragma once

namespace sidecar::host {

// Closes every descriptor numbered `first` or above. Async-signal-safe and allocation-free: it
// may run in a vfork()ed child. close_range(2) where the kernel has it (5.9+), else the entries
// of /proc/self/fd read with getdents64 into a buffer on the stack. Returns 0 or an errno.
int close_descriptors_from(int first);

}  // namespace sidecar::host
