// The checks of an Exchange read before anything is forwarded to an owner: the request's shape
// (read_validation), the authorization against the registry, and the key and filter values
// against their fields' types, in the order the Exchange service runs them. Whatever a caller
// sends, the answer is one of the documented refusals or a decision within its grant, and no
// refusal's message (which reaches logs and the audit log) holds a key or a filter value.
//
// Input: one byte choosing Get or Query and the caller, then the serialized request.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/schema.h"
#include "fuzz_check.h"
#include "gateway/read_validation.h"
#include "ndx/v1/exchange.pb.h"
#include "registry/authorizer.h"
#include "registry/grant_set.h"
#include "registry/snapshot_impl.h"
#include "testing/resident_schema.h"

namespace {

using ndx::registry::Decision;
using ndx::registry::ReadRequest;

constexpr absl::string_view kConsumer = "moh/insurance";
constexpr absl::string_view kOwner = "mops/population";
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

// The population register's residents, read by the health insurer under one grant.
struct Registry {
  std::shared_ptr<const ndx::registry::internal::SnapshotImpl> snapshot;
  std::vector<std::string> granted_fields;
};

const Registry& TheRegistry() {
  static const Registry* registry = [] {
    auto owner = std::make_shared<ndx::v1::Node>();
    owner->set_id(std::string(kOwner));
    owner->set_display_name("population register");
    owner->set_kind(ndx::v1::NODE_KIND_MINISTRY);
    owner->set_adapter_endpoint("127.0.0.1:7443");
    owner->set_state(ndx::v1::NODE_STATE_ACTIVE);
    auto consumer = std::make_shared<ndx::v1::Node>(*owner);
    consumer->set_id(std::string(kConsumer));
    consumer->clear_adapter_endpoint();

    ndx::v1::Dataset dataset;
    dataset.set_id("mops/residents");
    dataset.set_owner(std::string(kOwner));
    dataset.set_message_type("population.v1.Resident");
    dataset.set_key_field("citizen_id");
    dataset.set_subject_field("citizen_id");
    dataset.set_schema_version(1);
    absl::StatusOr<google::protobuf::FileDescriptorSet> schema =
        ndx::CompileProtoFile("resident.proto", ndx::testing::kResidentProto);
    NDX_FUZZ_CHECK(schema.ok(), "the resident schema compiles");
    *dataset.mutable_schema() = *schema;
    const google::protobuf::DescriptorProto& message = schema->file(0).message_type(0);
    for (const google::protobuf::FieldDescriptorProto& field : message.field()) {
      ndx::v1::FieldInfo* info = dataset.add_fields();
      info->set_name(field.name());
      info->set_number(field.number());
    }
    absl::StatusOr<std::shared_ptr<const ndx::registry::DatasetEntry>> entry =
        ndx::registry::internal::MakeDatasetEntry(dataset);
    NDX_FUZZ_CHECK(entry.ok(), "the dataset loads");

    auto grant = std::make_shared<ndx::v1::Grant>();
    grant->set_id("g-1");
    grant->set_consumer(std::string(kConsumer));
    grant->set_dataset("mops/residents");
    grant->set_state(ndx::v1::GRANT_STATE_APPROVED);
    grant->add_purposes("health-insurance-card");
    grant->add_operations(ndx::v1::OPERATION_READ);
    grant->add_operations(ndx::v1::OPERATION_QUERY);
    ndx::registry::FillDefaultOperations(grant.get());
    for (const char* field : {"citizen_id", "full_name", "birth_date"}) grant->add_fields(field);
    grant->set_justification("fuzz");

    auto* made = new Registry;
    made->granted_fields.assign(grant->fields().begin(), grant->fields().end());
    made->snapshot =
        ndx::registry::internal::SnapshotImpl::Build(1, {owner, consumer}, {*entry}, {grant});
    return made;
  }();
  return *registry;
}

bool IsDocumentedRefusal(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnavailable:
      return true;
    default:
      return false;
  }
}

// `value` with every letter and digit changed for the next one ("a1Z" -> "b2A"): of the same
// shape, so the checks mostly take the same path, but spelled differently at every letter and
// digit.
std::string Disguised(absl::string_view value) {
  std::string disguised(value);
  for (char& c : disguised) {
    if (absl::ascii_isdigit(c)) c = static_cast<char>('0' + (c - '0' + 1) % 10);
    if (absl::ascii_islower(c)) c = static_cast<char>('a' + (c - 'a' + 1) % 26);
    if (absl::ascii_isupper(c)) c = static_cast<char>('A' + (c - 'A' + 1) % 26);
  }
  return disguised;
}

// What the Exchange service runs before it forwards a read: shape, authorization, then values.
absl::StatusOr<Decision> Check(absl::string_view caller, const ndx::v1::GetRequest& request) {
  absl::Status shape = ndx::gateway::ValidateGetRequest(request);
  if (!shape.ok()) return shape;
  const std::vector<std::string> fields(request.fields().begin(), request.fields().end());
  const ReadRequest read{.dataset = request.dataset(),
                         .operation = ndx::v1::OPERATION_READ,
                         .fields = fields,
                         .purpose = request.purpose(),
                         .filter_fields = {}};
  absl::StatusOr<Decision> decision =
      ndx::registry::Authorize(*TheRegistry().snapshot, caller, read, kNow);
  if (!decision.ok()) return decision;
  absl::Status value = ndx::gateway::ValidateFieldValue(
      *decision->dataset->descriptor, decision->dataset->dataset.key_field(), request.key(), "key");
  if (!value.ok()) return value;
  return decision;
}

absl::StatusOr<Decision> Check(absl::string_view caller, const ndx::v1::QueryRequest& request) {
  absl::Status shape = ndx::gateway::ValidateQueryRequest(request);
  if (!shape.ok()) return shape;
  const std::vector<std::string> fields(request.fields().begin(), request.fields().end());
  std::vector<std::string> filter_fields;
  for (const ndx::v1::Filter& filter : request.filters()) filter_fields.push_back(filter.field());
  const ReadRequest read{
      .dataset = request.dataset(),
      .operation = request.filters().empty() ? ndx::v1::OPERATION_EXPORT : ndx::v1::OPERATION_QUERY,
      .fields = fields,
      .purpose = request.purpose(),
      .filter_fields = filter_fields};
  absl::StatusOr<Decision> decision =
      ndx::registry::Authorize(*TheRegistry().snapshot, caller, read, kNow);
  if (!decision.ok()) return decision;
  for (const ndx::v1::Filter& filter : request.filters()) {
    absl::Status value = ndx::gateway::ValidateFieldValue(*decision->dataset->descriptor,
                                                          filter.field(), filter.value(), "filter");
    if (!value.ok()) return value;
  }
  return decision;
}

// The key or filter values of a request, and the request with them disguised.
std::vector<std::string> Values(const ndx::v1::GetRequest& request) { return {request.key()}; }
std::vector<std::string> Values(const ndx::v1::QueryRequest& request) {
  std::vector<std::string> values;
  for (const ndx::v1::Filter& filter : request.filters()) values.push_back(filter.value());
  return values;
}
void Disguise(ndx::v1::GetRequest* request) { request->set_key(Disguised(request->key())); }
void Disguise(ndx::v1::QueryRequest* request) {
  for (ndx::v1::Filter& filter : *request->mutable_filters()) {
    filter.set_value(Disguised(filter.value()));
  }
}

template <typename Request>
void CheckRequest(absl::string_view caller, const Request& request) {
  absl::StatusOr<Decision> decision = Check(caller, request);
  if (decision.ok()) {
    NDX_FUZZ_CHECK(caller == kConsumer, "only the grant's consumer reads");
    NDX_FUZZ_CHECK(
        !decision->fields.empty() && decision->fields.size() == decision->field_numbers.size(),
        "a decision names the fields it returns");
    for (const std::string& field : decision->fields) {
      NDX_FUZZ_CHECK(absl::c_linear_search(TheRegistry().granted_fields, field),
                     "a decision returns only fields its grant covers");
    }
    NDX_FUZZ_CHECK(absl::c_is_sorted(decision->field_numbers), "field numbers ascend");
    return;
  }
  NDX_FUZZ_CHECK(IsDocumentedRefusal(decision.status()), "a refusal has a documented code");
  // A value is in the message because the request sent it when the same request with its values
  // disguised gets a message without it; otherwise the message's own words spell it. Values
  // under 6 bytes are too short to tell.
  Request disguised = request;
  Disguise(&disguised);
  const absl::Status other = Check(caller, disguised).status();
  for (const std::string& value : Values(request)) {
    const bool leaked = value.size() >= 6 &&
                        absl::StrContains(decision.status().message(), value) &&
                        !absl::StrContains(other.message(), value);
    NDX_FUZZ_CHECK(!leaked, "a refusal's message does not hold a key or filter value");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t choice = data[0];
  constexpr absl::string_view kCallers[] = {kConsumer, kOwner, "moj/civil-status"};
  const absl::string_view caller = kCallers[(choice >> 1) % 3];
  const void* request_bytes = data + 1;
  const int request_size = static_cast<int>(size - 1);
  if (choice % 2 == 0) {
    ndx::v1::GetRequest request;
    if (request.ParseFromArray(request_bytes, request_size)) CheckRequest(caller, request);
  } else {
    ndx::v1::QueryRequest request;
    if (request.ParseFromArray(request_bytes, request_size)) CheckRequest(caller, request);
  }
  return 0;
}
