// Readers take snapshots and authorize while a writer changes the registry: no lock on the read
// side, no torn state. Meant to run under ThreadSanitizer as well.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "registry/authorizer.h"
#include "registry_test_util.h"

// GCC 12.2's std::atomic<std::shared_ptr> guards its pointer with a lock bit that ThreadSanitizer
// does not see (annotations for it came in later GCC releases), so TSan reports every concurrent
// load/store pair of the published snapshot as a race. This suppresses only those frames; a
// no-op in builds without TSan.
extern "C" const char* __tsan_default_suppressions() { return "race:std::_Sp_atomic\n"; }

namespace ndx::registry::testing {
namespace {

using ::ndx::testing::IsOk;

class ConcurrencyTest : public RegistryFixture {};

TEST_F(ConcurrencyTest, ReadersSeeWholeSnapshotsWhileAWriterWrites) {
  constexpr int kWrites = 60;
  constexpr int kReaders = 3;
  std::atomic<bool> done{false};
  std::atomic<int> allowed{0};
  std::atomic<int> denied{0};
  std::vector<std::string> fields = {"birth_id"};

  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      uint64_t last_revision = 0;
      int iterations = 0;
      // At least a few rounds even if the writer is done first; bounded either way.
      while ((!done.load() || iterations < 100) && iterations < 2000000) {
        ++iterations;
        std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
        ASSERT_NE(snapshot, nullptr);
        ASSERT_GE(snapshot->revision(), last_revision);
        last_revision = snapshot->revision();
        ReadRequest request;
        request.dataset = kDataset;
        request.operation = v1::OPERATION_READ;
        request.fields = fields;
        request.purpose = "health-insurance";
        absl::Time now = clock_.Now();
        absl::StatusOr<Decision> first = Authorize(*snapshot, kConsumer, request, now);
        // The same snapshot gives the same answer, whatever the writer does meanwhile.
        absl::StatusOr<Decision> second = Authorize(*snapshot, kConsumer, request, now);
        ASSERT_EQ(first.status(), second.status());
        if (first.ok()) {
          ASSERT_EQ(first->grant, second->grant);
          ASSERT_EQ(first->grant->state(), v1::GRANT_STATE_APPROVED);
          ASSERT_EQ(first->fields, std::vector<std::string>{"birth_id"});
          allowed.fetch_add(1);
        } else {
          ASSERT_EQ(first.status().code(), absl::StatusCode::kPermissionDenied) << first.status();
          denied.fetch_add(1);
        }
        if (iterations % 64 == 0) {
          ASSERT_EQ(snapshot->Grants().size(), snapshot->GrantsFor(kConsumer, kDataset).size());
        }
      }
    });
  }

  std::thread writer([&] {
    std::string current;
    for (int i = 0; i < kWrites; ++i) {
      switch (i % 3) {
        case 0:
          current = Grant({"birth_id", "province"}, {"health-insurance"});
          break;
        case 1: {
          v1::RevokeGrantRequest revoke;
          revoke.set_grant_id(current);
          EXPECT_THAT(admin_->RevokeGrant(kOwner, revoke, recorder_), IsOk());
          break;
        }
        case 2:
          RegisterNode(kConsumer, "");
          break;
      }
    }
    done.store(true);
  });

  writer.join();
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(registry_->snapshot()->Grants().size(), static_cast<size_t>(kWrites / 3));
  EXPECT_GT(allowed.load() + denied.load(), 0);
}

}  // namespace
}  // namespace ndx::registry::testing
