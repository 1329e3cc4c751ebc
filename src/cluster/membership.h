#ifndef NDX_CLUSTER_MEMBERSHIP_H_
#define NDX_CLUSTER_MEMBERSHIP_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ndx::cluster {

class EtcdClient;

// A gateway replica as the others see it.
struct Member {
  std::string replica_id;
  // host:port of its gRPC port.
  std::string address;
};

// The live replicas of a gateway cluster. Thread-safe.
class Membership {
 public:
  virtual ~Membership() = default;
  // This replica.
  virtual const Member& self() const = 0;
  // The live replicas, this one included, sorted by replica_id.
  virtual std::vector<Member> Members() const = 0;
};

// A fixed list, for tests and single-node use.
class StaticMembership final : public Membership {
 public:
  StaticMembership(Member self, std::vector<Member> members)
      : self_(std::move(self)), members_(std::move(members)) {}
  const Member& self() const override { return self_; }
  std::vector<Member> Members() const override { return members_; }

 private:
  const Member self_;
  const std::vector<Member> members_;
};

struct EtcdMembershipOptions {
  // Members are the keys <prefix>members/<replica_id>, each holding the address.
  std::string prefix = "/ndx/";
  Member self;
  // The lease's time to live; it is kept alive about three times per TTL.
  absl::Duration ttl = absl::Seconds(5);
};

// Registers `self` in etcd under a lease kept alive by a background thread, and follows the other
// members with a watch. A replica that stops revokes its lease; one that dies leaves when its
// lease expires. kUnavailable when etcd cannot be reached at the start; later losses of etcd are
// retried in the background (Members() then keeps the last list it knew).
// `etcd` is not owned and must outlive the membership. The destructor stops the background
// threads and revokes the lease (best effort, within the client's call timeout), so that the
// others see this replica leave at once.
absl::StatusOr<std::unique_ptr<Membership>> JoinCluster(EtcdClient* etcd,
                                                        const EtcdMembershipOptions& options);

// Test hook: stops the background threads of a membership made by JoinCluster as the death of
// its replica would, without revoking its lease: the others see it leave when the lease expires.
// REQUIRES: `membership` was made by JoinCluster.
void CrashForTest(Membership& membership);

}  // namespace ndx::cluster

#endif  // NDX_CLUSTER_MEMBERSHIP_H_
