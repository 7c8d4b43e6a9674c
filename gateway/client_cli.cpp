#include "gateway/client_cli.h"

#include <cstdlib>

namespace sluice::gateway {

void add_connection_flags(CLI::App& app, ConnectionFlags& flags) {
  ChannelOptions& channel = flags.channel;
  flags.group = app.add_option_group("connection", "where the gateway is and how to reach it");
  flags.group->add_option("-t,--target", channel.target, "gateway address host:port")->capture_default_str();
  auto* tls = flags.group->add_flag("--tls", channel.tls, "connect with TLS");
  flags.group->add_option("--ca", channel.ca_file, "PEM file of the CAs that sign the server's certificate "
                                                   "(default: the system's roots)")
      ->check(CLI::ExistingFile)
      ->needs(tls);
  auto* cert = flags.group->add_option("--cert", channel.cert_file, "PEM client certificate, for mutual TLS")
                   ->check(CLI::ExistingFile)
                   ->needs(tls);
  auto* key = flags.group->add_option("--key", channel.key_file, "PEM private key of --cert")
                  ->check(CLI::ExistingFile)
                  ->needs(tls);
  cert->needs(key);
  key->needs(cert);
  flags.group->add_option("--server-name", channel.server_name,
                          "name the server's certificate must carry, when it differs from the target's host")
      ->needs(tls);
  flags.group->add_option("--token-file", flags.token_file,
                          "file holding the bearer token sent with every call (default: the SLUICE_TOKEN "
                          "environment variable; there is no --token, so the token never shows in ps)")
      ->check(CLI::ExistingFile);
}

ChannelOptions resolve_connection(const ConnectionFlags& flags) {
  ChannelOptions channel = flags.channel;
  if (!flags.token_file.empty()) {
    channel.token = read_token_file(flags.token_file);
  } else if (const char* token = std::getenv("SLUICE_TOKEN")) {
    channel.token = token;
  }
  return channel;
}

}  // namespace sluice::gateway
