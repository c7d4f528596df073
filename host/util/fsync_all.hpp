// Fsyncing several descriptors at once (host/store/artifact_store.cpp's durable writes): side by
// side, so that the disk sees the flushes together instead of waiting for each in turn; and none at
// all for a file system in memory, whose fsync does nothing (a store under /dev/shm or a tmpfs
// /tmp then starts no thread for it).
#pragma once
#include <vector>

namespace sidecar::host {

// True when `fd` is on a file system held in memory (tmpfs, ramfs): its fsync does nothing.
bool fsync_is_noop(int fd) noexcept;

// Fsyncs every descriptor of `fds` that needs it, side by side (the first on this thread, the
// others each on a thread of its own, or in turn on this one when no thread can start). Returns 0
// or the errno of a failure.
int fsync_all(const std::vector<int>& fds) noexcept;

}  // namespace sidecar::host
