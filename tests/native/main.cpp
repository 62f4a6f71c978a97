// The doctest main for gyre_tests (native, wasm-simd and wasm-scalar builds).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

int main(int argc, char** argv) {
  std::printf("gyre_tests: flavour %s\n", GYRE_FLAVOUR);
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
