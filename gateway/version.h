#pragma once

namespace sluice::gateway {
inline constexpr const char* kVersion = "0.1.0";
}
