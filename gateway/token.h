#pragma once
// What the gateway and the client library both accept as a bearer token.
#include <string_view>

namespace sluice::gateway {

// A token as written in a file: without the blanks (and line end) around it.
inline std::string_view strip_blanks(std::string_view text) {
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  return text.substr(start, text.find_last_not_of(" \t\r\n") + 1 - start);
}

// Printable ASCII without spaces: it travels unchanged in the `authorization` header, and a stray
// newline or space from a token file is caught where the token is read, not as a failed call.
inline bool is_valid_token(std::string_view token) {
  if (token.empty()) return false;
  for (const char c : token) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace sluice::gateway
