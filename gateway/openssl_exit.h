#pragma once

namespace sluice::gateway {

// OpenSSL 3 frees its global state in an atexit handler, and gRPC's threads can still be exiting
// at that moment, each freeing its own OpenSSL thread state through the global one: a rare double
// free after a clean drain (grpc/grpc#38539). Started without that handler, OpenSSL leaves its
// state to the OS at exit, as gRPC itself later chose (grpc/grpc#42608).
// Call before anything in the process touches OpenSSL: the first start decides, later ones do not.
// Throws sluice::Error if OpenSSL cannot start.
void skip_openssl_cleanup_at_exit();

}  // namespace sluice::gateway
