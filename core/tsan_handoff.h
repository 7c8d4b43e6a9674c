#pragma once
// Happens-before edges that ThreadSanitizer cannot see by itself. oneTBB and gRPC come from
// Debian, built without TSan, so a hand-off through their queues and thread pools shows no
// synchronisation. Where the library guarantees the ordering, sluice states it: the sending side
// calls handoff_send(token) before handing work over, the receiving side handoff_receive(token)
// where it arrives; everything before the send then happens before everything after the receive.
// Any address works as a token; sends accumulate. Without TSan both compile to nothing.
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace sluice {

#if defined(__SANITIZE_THREAD__)
inline void handoff_send(const void* token) { __tsan_release(const_cast<void*>(token)); }
inline void handoff_receive(const void* token) { __tsan_acquire(const_cast<void*>(token)); }
#else
inline void handoff_send(const void*) {}
inline void handoff_receive(const void*) {}
#endif

}  // namespace sluice
