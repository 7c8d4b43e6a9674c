#pragma once
// The connection options that sluice-client and sluice-replay share: --target, TLS, mutual TLS and
// the bearer token (from --token-file or SLUICE_TOKEN, never from the command line, where `ps`
// would show it).
#include <string>

#include <CLI/CLI.hpp>

#include "gateway/client.h"

namespace sluice::gateway {

struct ConnectionFlags {
  ChannelOptions channel;
  std::string token_file;
  CLI::Option_group* group = nullptr;  // all of the options, e.g. for excludes()
};

// Adds the options to `app`, bound to `flags` (which must outlive parsing); --target defaults to
// flags.channel.target.
void add_connection_flags(CLI::App& app, ConnectionFlags& flags);

// After parsing: the channel options with the token from --token-file, else from SLUICE_TOKEN.
// Throws Error(InvalidArgument) for an unreadable or invalid token file.
ChannelOptions resolve_connection(const ConnectionFlags& flags);

}  // namespace sluice::gateway
