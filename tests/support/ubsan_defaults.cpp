// Linked into the test executables under SLUICE_SANITIZE=address, so that running one directly
// (not only through scripts/test) applies the project's UBSan suppressions. UBSAN_OPTIONS from
// the environment still overrides these.
extern "C" const char* __ubsan_default_options() {
  return "print_stacktrace=1:suppressions=" SLUICE_SOURCE_DIR "/tests/ubsan.supp";
}
