#ifndef NDX_REGISTRY_ETCD_REGISTRY_H_
#define NDX_REGISTRY_ETCD_REGISTRY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cluster/etcd_client.h"
#include "registry/registry.h"

namespace ndx::registry {

struct EtcdRegistryOptions {
  // Not owned; must outlive the registry.
  cluster::EtcdClient* etcd = nullptr;
  // The registry's records are the etcd keys <prefix>registry/<node|dataset|grant>/<id>.
  std::string prefix = "/ndx/";
  // Directory of the replica's local copy (RocksDB).
  std::string dir;
  // How long the replica keeps deciding from a snapshot it could not confirm current.
  absl::Duration staleness_bound = absl::Seconds(5);
  // How long opening waits for the first confirmation that the copy is current.
  absl::Duration start_timeout = absl::Seconds(10);
};

// A gateway replica's registry when etcd is the source of truth (docs/cluster.md).
//   - Writes are etcd transactions that compare the record's mod_revision with the snapshot the
//     write was decided on (Registry::Put*AsOf): of two concurrent changes to one record, one
//     wins and the other is kAborted. A write returns once this replica has applied it, so that
//     the writer reads what it wrote.
//   - A background thread follows an etcd watch of the registry's keys from the copy's revision
//     into the local RocksDB copy (RegistryCopy), and publishes each change as a new snapshot:
//     the request path reads that snapshot and never waits on etcd. A copy whose revision etcd
//     has compacted away is replaced by a full read.
//   - Freshness: the follower asks etcd for a progress notification several times per
//     staleness_bound; each one confirms that every change up to it was applied. Once no
//     confirmation is younger than staleness_bound, CheckFresh() answers kUnavailable, so a
//     replica cut from etcd stops deciding with an old registry, and recovers by itself when etcd
//     answers again.
// Opening fails with kUnavailable when etcd cannot confirm the copy current within start_timeout.
// Thread-safe.
absl::StatusOr<std::unique_ptr<Registry>> OpenEtcdRegistry(const EtcdRegistryOptions& options);

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_ETCD_REGISTRY_H_
