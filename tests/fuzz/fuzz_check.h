// Shared helpers for the libFuzzer targets in this directory (see docs/fuzzing.md).
#pragma once

#include <cstdio>
#include <cstdlib>

// A property a target checks on every input; a violation aborts, so libFuzzer records the
// input as a crash (with the message on stderr).
#define LOGQ_FUZZ_CHECK(cond)                                                                 \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
