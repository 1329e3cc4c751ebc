#ifndef NDX_COMMON_PROCESS_H_
#define NDX_COMMON_PROCESS_H_

namespace ndx {

// Start-up common to every ndx binary: turns off Abseil's deadlock-cycle bookkeeping (Debian's
// Abseil is built without NDEBUG, which makes every mutex pay for it) and sets up logging to
// stderr with the given program name.
void InitProcess(const char* program_name);

}  // namespace ndx

#endif  // NDX_COMMON_PROCESS_H_
