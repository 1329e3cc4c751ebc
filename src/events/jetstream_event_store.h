#ifndef NDX_EVENTS_JETSTREAM_EVENT_STORE_H_
#define NDX_EVENTS_JETSTREAM_EVENT_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/sealer.h"
#include "events/event_backend.h"

namespace ndx::events {

struct JetStreamEventStoreOptions {
  // Server URLs, "tls://host:port"; at least one. The client reconnects to any of them.
  std::vector<std::string> urls;
  // The gateway's identity as a NATS client (PEM files of the cluster CA), and that CA, against
  // which the servers are verified. Required: there is no plaintext connection.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Replicas of each stream and of the subscriptions bucket, 1-5 (at most the servers).
  int stream_replicas = 3;
  // The events' retention, as given to Sweep: the streams keep events twice as long
  // (JetStream's max_age), a backstop in case no gateway sweeps.
  absl::Duration retention = absl::Hours(24 * 7);
  // Names of everything in JetStream: streams <PREFIX>_EV_<hash>, subjects
  // <prefix>.events.<hash> and <prefix>.notify.*, the bucket <prefix>_subscriptions. Letters,
  // digits and '-'; two gateway clusters on one NATS account need two prefixes.
  std::string prefix = "ndx";
  // Seals the record key of each event before it reaches NATS, whose files are not the owner's
  // database. Required; every replica needs the same sealing key.
  std::optional<crypto::Sealer> key_sealer;
  // How long one JetStream request may take.
  absl::Duration request_timeout = absl::Seconds(5);
  // How long Append retries a publication that got no acknowledgement (a stream leader being
  // elected after a server died) before it returns kUnavailable.
  absl::Duration publish_retry = absl::Seconds(15);
};

// Opens the event store that the replicas of a gateway cluster share in NATS JetStream, creating
// the subscriptions bucket if needed (streams are created with a dataset's first event or
// subscription). kInvalidArgument names a bad option; kUnavailable when no server answers.
//
// Layout (see docs/events.md, "In a cluster"):
// * One stream per dataset, named from a hash of the dataset id (the id itself is only the
//   stream's description), limits retention, file storage, `stream_replicas` replicas. Its
//   stream sequence is the dataset's sequence: JetStream numbers a stream's messages from 1
//   without gaps, and only this store publishes to it. A retried publication carries the same
//   Nats-Msg-Id, so JetStream stores it once (duplicate window 2 minutes).
// * Each message is the v1::Event without its dataset and sequence, its key sealed with the
//   dataset and the message id as associated data (the sequence is not known before JetStream
//   assigns it).
// * Subscriptions are entries of a replicated key-value bucket, key
//   s.<dataset hash>.<subscriber hash>, value the v1::Subscription with its position. Every
//   change is a compare-and-set on the entry's revision, retried on conflict, so replicas that
//   acknowledge, resume and count expired events at once lose none of each other's changes.
//   Positions are not JetStream consumer acknowledgements: a JetStream ack acknowledges one
//   delivered message through the consumer that delivered it, while a gateway Ack moves the
//   position to any sequence, on any replica, whichever replica delivered the events. The
//   subscription is still what a durable consumer is: a durable, replicated position that
//   survives any replica.
// * Trimming purges a stream up to the lowest position of its subscriptions (all of it without
//   subscriptions). The expiry of Sweep counts, per subscription, the unacknowledged events it
//   removes; a key x.<dataset hash> holding the last sequence counted, changed by
//   compare-and-set, makes replicas that sweep at once count each event once.
// * Other replicas learn of a publication from the message itself (a core NATS subscription to
//   <prefix>.events.*), and of an acknowledgement or a new stream of a subscription from notices
//   on <prefix>.notify.*, which hold node and dataset ids and a sequence, never a key.
absl::StatusOr<std::unique_ptr<EventBackend>> OpenJetStreamEventStore(
    const JetStreamEventStoreOptions& options);

}  // namespace ndx::events

#endif  // NDX_EVENTS_JETSTREAM_EVENT_STORE_H_
