#ifndef NDX_FUZZ_FUZZ_CHECK_H_
#define NDX_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

// A property every input must keep. A broken one aborts, which libFuzzer reports as a crash
// (and saves the input) and the corpus replay of the normal build reports as a failed test.
// Active in every build type: a fuzz target exists to check, and NDEBUG must not silence it.
#define NDX_FUZZ_CHECK(condition, what)                                                     \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property broken: %s (%s)\n", __FILE__, __LINE__, (what), \
                   #condition);                                                             \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

#endif  // NDX_FUZZ_FUZZ_CHECK_H_
