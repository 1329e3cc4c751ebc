#ifndef NDX_TESTS_UNIT_REGISTRY_ALLOC_COUNTER_H_
#define NDX_TESTS_UNIT_REGISTRY_ALLOC_COUNTER_H_

namespace ndx::registry::testing {

// Counts the calls to the global operator new made by the calling thread between Start and Stop.
// alloc_counter.cc replaces operator new and delete for the whole test binary; they live in their
// own file so that the compiler does not inline them into code that it then misjudges.
void StartCountingAllocations();
// The number of allocations since StartCountingAllocations().
int StopCountingAllocations();

}  // namespace ndx::registry::testing

#endif  // NDX_TESTS_UNIT_REGISTRY_ALLOC_COUNTER_H_
