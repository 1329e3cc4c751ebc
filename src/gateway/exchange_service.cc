#include "gateway/exchange_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/retry_delay.h"
#include "common/status_macros.h"
#include "gateway/audited_call.h"
#include "gateway/caller.h"
#include "gateway/projection.h"
#include "gateway/read_validation.h"
#include "registry/authorizer.h"

namespace ndx::gateway {
namespace {

constexpr char kTypeUrlPrefix[] = "type.googleapis.com/";

// What the consumer sees when the owner's adapter fails: a fixed text per status code. An
// adapter's own message is never copied (into the answer, the audit log, the decision log or the
// gateway's log): an adapter is the owner's software, and its text may name a key or a value.
// The adapter's operator reads its own log.
absl::Status AdapterFailure(const grpc::Status& status, const registry::Decision& decision,
                            bool deadline_is_gateway_limit, absl::Duration limit) {
  const std::string& owner = decision.owner->id();
  const std::string& dataset = decision.dataset->dataset.id();
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(absl::StrCat("dataset ", dataset, " has no record with this ",
                                              decision.dataset->dataset.key_field()));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::InvalidArgumentError(
          absl::StrCat("the adapter of ", owner,
                       " refused the request as invalid: a key or filter value "
                       "that its field's type does not accept (`ndxctl dataset show ",
                       dataset, "` lists the types)"));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(
          deadline_is_gateway_limit
              ? absl::StrCat("the adapter of ", owner, " did not answer within ",
                             absl::ToInt64Milliseconds(limit), " ms (the gateway's limit)")
              : absl::StrCat("the adapter of ", owner, " did not answer before the deadline"));
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::ResourceExhaustedError(
          absl::StrCat("the adapter of ", owner,
                       " is overloaded, or its answer is larger than the gateway "
                       "accepts (max_message_bytes); ask for fewer fields or a smaller page"));
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(absl::StrCat("the adapter of ", owner, " at ",
                                                 decision.owner->adapter_endpoint(),
                                                 " is unavailable; try again later"));
    default:
      return absl::UnavailableError(
          absl::StrCat("the adapter of ", owner, " failed (",
                       absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                       "); its operator finds why in its log"));
  }
}

}  // namespace

// One Get or Query in flight. It owns everything the asynchronous adapter call needs and deletes
// itself after answering. Not thread-safe, and needs not be: its steps run one after another
// (start on a gRPC thread, then the adapter's completion on another).
class ReadCall {
 public:
  ReadCall(const ExchangeService* service, ReadOrigin origin, ReadDone done, std::string operation)
      : service_(service),
        origin_(std::move(origin)),
        done_(std::move(done)),
        call_(*service->audit_, *service->clock_, std::move(operation), 0) {
    service_->in_flight_.fetch_add(1, std::memory_order_acq_rel);
  }
  virtual ~ReadCall() { service_->in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

  // REQUIRES: called once; `this` may be deleted before it returns.
  void Start() {
    absl::Status status = Authorize();
    if (status.ok()) status = AdmitToOwner();
    if (!status.ok()) {
      Fail(std::move(status));
    } else {
      Forward();
    }
  }

 protected:
  // The request's shape, dataset, fields, filters, purpose and operation, for validation and
  // authorization.
  virtual absl::Status ValidateShape() const = 0;
  virtual registry::ReadRequest AsReadRequest() const = 0;
  // The data subjects the request itself names (a key or filter on the dataset's subject field).
  virtual void NoteRequestedSubjects(const registry::DatasetEntry& dataset) = 0;
  // Whether the key or filter values convert to their fields' types.
  virtual absl::Status ValidateValues(const google::protobuf::Descriptor& schema) const = 0;
  // Sends the adapter call; must end with exactly one call to Succeed or Fail.
  virtual void Forward() = 0;

  // Answers OK after the record is audited; the response must be filled.
  void Succeed(uint64_t response_bytes, uint32_t record_count) {
    audit::AuditRecord& record = call_.record();
    record.fields = decision_.fields;
    record.response_bytes = response_bytes;
    record.record_count = record_count;
    Complete(absl::OkStatus());
  }

  // Answers `status` after the refusal or failure is audited.
  void Fail(absl::Status status) { Complete(std::move(status)); }

  void NoteSubject(std::string subject) {
    std::vector<std::string>& subjects = call_.record().subjects;
    if (std::find(subjects.begin(), subjects.end(), subject) == subjects.end()) {
      subjects.push_back(std::move(subject));
    }
  }

  // Records the data subject of a record the adapter returned, read from its subject field even
  // when the grant does not return that field: the audit log must know whose data was read. A
  // record without its subject is kFailedPrecondition: a read that cannot be attributed to the
  // citizen it concerns is not answered.
  absl::Status NoteRecordSubject(absl::string_view record) {
    const registry::DatasetEntry& dataset = *decision_.dataset;
    const std::string& subject_field = dataset.dataset.subject_field();
    if (subject_field.empty()) return absl::OkStatus();
    auto number = dataset.field_numbers.find(subject_field);
    if (number == dataset.field_numbers.end()) return absl::OkStatus();
    absl::StatusOr<std::string> subject = FieldAsText(record, number->second);
    if (!subject.ok()) return subject.status();
    if (subject->empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("a record of ", dataset.dataset.id(), " came back from the adapter of ",
                       decision_.owner->id(), " without its subject field ", subject_field,
                       "; the gateway answers no read it cannot attribute to its data subject"));
    }
    NoteSubject(*std::move(subject));
    return absl::OkStatus();
  }

  // The fields to ask the adapter for: the granted ones and the dataset's subject field, which
  // the audit needs and projection removes again when it is not granted.
  std::vector<std::string> AdapterFields() const {
    std::vector<std::string> fields = decision_.fields;
    const std::string& subject_field = decision_.dataset->dataset.subject_field();
    if (!subject_field.empty() && decision_.dataset->field_numbers.contains(subject_field) &&
        std::find(fields.begin(), fields.end(), subject_field) == fields.end()) {
      fields.push_back(subject_field);
    }
    return fields;
  }

  // Tells the owner's guards how the adapter call ended.
  // REQUIRES: called first thing in the adapter call's completion.
  void AdapterCallEnded(const grpc::Status& status) {
    owner_permit_.Finish(static_cast<absl::StatusCode>(status.error_code()));
  }

  // Maps a failed adapter call.
  void FailFromAdapter(const grpc::Status& status) {
    Fail(AdapterFailure(status, decision_, deadline_is_gateway_limit_,
                        service_->options_.adapter_timeout));
  }

  // Fills `client` with the adapter call's deadline: the caller's own, or the gateway's limit
  // when that comes first.
  void SetAdapterDeadline(grpc::ClientContext* client) {
    auto caller_deadline = origin_.deadline;
    auto limit = std::chrono::system_clock::now() +
                 absl::ToChronoMicroseconds(service_->options_.adapter_timeout);
    deadline_is_gateway_limit_ = limit < caller_deadline;
    client->set_deadline(std::min(limit, caller_deadline));
  }

  v1::RequestContext AdapterContext() const {
    const audit::AuditRecord& record = call_.record();
    v1::RequestContext context;
    context.set_caller(record.caller);
    context.set_purpose(record.purpose);
    context.set_request_id(record.request_id);
    return context;
  }

  AdapterPool* adapters() const { return service_->adapters_; }
  const PageTokens& page_tokens() const { return *service_->page_tokens_; }
  const registry::Decision& decision() const { return decision_; }
  const std::string& caller() const { return call_.record().caller; }
  const std::string& request_id() const { return call_.record().request_id; }

 private:
  absl::Status Authorize() {
    if (!origin_.caller.ok()) return origin_.caller.status();
    audit::AuditRecord& record = call_.record();
    record.caller = *origin_.caller;
    registry::ReadRequest request = AsReadRequest();
    record.dataset = std::string(request.dataset);
    record.purpose = std::string(request.purpose);
    NDX_RETURN_IF_ERROR(HoldNodeCall());
    absl::Status shape = ValidateShape();
    if (!shape.ok()) return shape;
    // A replica cut from the registry's source of truth for too long may miss a revocation.
    NDX_RETURN_IF_ERROR(service_->registry_->CheckFresh());
    snapshot_ = service_->registry_->snapshot();
    record.registry_revision = snapshot_->revision();
    // Whose data was asked for is recorded whatever the decision.
    if (const registry::DatasetEntry* dataset = snapshot_->FindDataset(request.dataset)) {
      NoteRequestedSubjects(*dataset);
    }
    absl::StatusOr<registry::Decision> decision =
        registry::Authorize(*snapshot_, record.caller, request, record.time);
    if (!decision.ok()) return decision.status();
    decision_ = *std::move(decision);
    record.grant_id = decision_.grant->id();
    // Right after authorization: a call over its grant's rate limit costs no further work, no
    // adapter call, and no audit append of its own (RefusalTally counts it).
    if (GrantQuotas* quotas = service_->options_.grant_quotas; quotas != nullptr) {
      if (std::optional<absl::Duration> retry = quotas->Acquire(*decision_.grant, *snapshot_)) {
        record.overload_reason = quotas->OverLimitReason(*decision_.grant);
        return quotas->OverLimit(*decision_.grant, *retry);
      }
    }
    return ValidateValues(*decision_.dataset->descriptor);
  }

  // Takes one of the caller node's reads in progress, held until the answer is sent. Before any
  // other work: a node at its cap costs the gateway no more than this refusal.
  absl::Status HoldNodeCall() {
    NodeLimits* limits = service_->options_.node_limits;
    if (limits == nullptr) return absl::OkStatus();
    NDX_ASSIGN_OR_RETURN(node_call_, limits->Acquire(call_.record().caller, NodeResource::kCalls,
                                                     origin_.connection));
    return absl::OkStatus();
  }

  // Passes the guards of the owner's adapter: its circuit, the caller's deadline against the time
  // the adapter usually needs, its calls in flight.
  absl::Status AdmitToOwner() {
    OwnerGuards* guards = service_->options_.owner_guards;
    if (guards == nullptr) return absl::OkStatus();
    std::optional<absl::Duration> caller_time;
    auto left = std::max(origin_.deadline - std::chrono::system_clock::now(),
                         std::chrono::system_clock::duration::zero());
    // Beyond the gateway's own limit, the caller's deadline does not matter to the adapter call.
    if (left < absl::ToChronoMicroseconds(service_->options_.adapter_timeout)) {
      caller_time = absl::FromChrono(left);
    }
    NDX_ASSIGN_OR_RETURN(owner_permit_,
                         guards->Admit(decision_.owner->id(), call_.record().caller, caller_time));
    return absl::OkStatus();
  }

  // The single place where a read's outcome goes: audited, then answered (AuditedCall).
  void Complete(absl::Status status) {
    // A call that never reached the adapter gives its place back without a verdict on it.
    owner_permit_ = {};
    // Finish hands the record, request id included, to the audit sink.
    call_.Finish(std::move(status),
                 [this, request_id = call_.record().request_id](absl::Status answer) {
                   // Before the answer, so that the caller's next read finds it free.
                   node_call_.Release();
                   std::move(done_)(std::move(answer), request_id);
                   delete this;
                 });
  }

  const ExchangeService* const service_;
  const ReadOrigin origin_;
  ReadDone done_;
  AuditedCall call_;
  // Keeps the pointers of decision_ valid.
  std::shared_ptr<const registry::Snapshot> snapshot_;
  registry::Decision decision_;
  bool deadline_is_gateway_limit_ = false;
  NodeLimits::Hold node_call_;
  OwnerGuards::Permit owner_permit_;
};

namespace {

class GetCall final : public ReadCall {
 public:
  GetCall(const ExchangeService* service, ReadOrigin origin, ReadDone done,
          const v1::GetRequest* request, v1::GetResponse* response)
      : ReadCall(service, std::move(origin), std::move(done), "Get"),
        request_(request),
        response_(response),
        requested_fields_(request->fields().begin(), request->fields().end()) {}

 private:
  absl::Status ValidateShape() const override { return ValidateGetRequest(*request_); }

  registry::ReadRequest AsReadRequest() const override {
    return {.dataset = request_->dataset(),
            .operation = v1::OPERATION_READ,
            .fields = requested_fields_,
            .purpose = request_->purpose(),
            .filter_fields = {}};
  }

  void NoteRequestedSubjects(const registry::DatasetEntry& dataset) override {
    const std::string& subject_field = dataset.dataset.subject_field();
    if (!subject_field.empty() && subject_field == dataset.dataset.key_field()) {
      NoteSubject(request_->key());
    }
  }

  absl::Status ValidateValues(const google::protobuf::Descriptor& schema) const override {
    return ValidateFieldValue(schema, decision().dataset->dataset.key_field(), request_->key(),
                              "key");
  }

  void Forward() override {
    absl::StatusOr<v1::Adapter::Stub*> stub =
        adapters()->Find(decision().owner->adapter_endpoint(), decision().owner->id());
    if (!stub.ok()) return Fail(stub.status());
    *fetch_.mutable_context() = AdapterContext();
    fetch_.set_dataset(request_->dataset());
    fetch_.set_key(request_->key());
    for (std::string& field : AdapterFields()) fetch_.add_fields(std::move(field));
    SetAdapterDeadline(&client_);
    (*stub)->async()->Fetch(&client_, &fetch_, &fetched_,
                            [this](grpc::Status status) { OnFetched(status); });
  }

  void OnFetched(const grpc::Status& status) {
    AdapterCallEnded(status);
    if (!status.ok()) return FailFromAdapter(status);
    absl::Status noted = NoteRecordSubject(fetched_.record());
    if (!noted.ok()) return Fail(std::move(noted));
    absl::StatusOr<std::string> projected =
        ProjectFields(fetched_.record(), decision().field_numbers);
    if (!projected.ok()) return Fail(projected.status());
    size_t bytes = projected->size();
    response_->mutable_record()->set_type_url(
        absl::StrCat(kTypeUrlPrefix, decision().dataset->dataset.message_type()));
    response_->mutable_record()->set_value(*std::move(projected));
    response_->mutable_fields()->Assign(decision().fields.begin(), decision().fields.end());
    response_->set_request_id(request_id());
    Succeed(bytes, 1);
  }

  const v1::GetRequest* const request_;
  v1::GetResponse* const response_;
  const std::vector<std::string> requested_fields_;
  grpc::ClientContext client_;
  v1::FetchRequest fetch_;
  v1::FetchResponse fetched_;
};

class QueryCall final : public ReadCall {
 public:
  QueryCall(const ExchangeService* service, ReadOrigin origin, ReadDone done,
            const v1::QueryRequest* request, v1::QueryResponse* response, int default_page_size,
            int max_page_size)
      : ReadCall(service, std::move(origin), std::move(done), "Query"),
        request_(request),
        response_(response),
        default_page_size_(default_page_size),
        max_page_size_(max_page_size),
        requested_fields_(request->fields().begin(), request->fields().end()) {
    for (const v1::Filter& filter : request_->filters()) filter_fields_.push_back(filter.field());
  }

 private:
  absl::Status ValidateShape() const override { return ValidateQueryRequest(*request_); }

  registry::ReadRequest AsReadRequest() const override {
    // Without a filter a query pages through the whole dataset: an export.
    return {.dataset = request_->dataset(),
            .operation = request_->filters().empty() ? v1::OPERATION_EXPORT : v1::OPERATION_QUERY,
            .fields = requested_fields_,
            .purpose = request_->purpose(),
            .filter_fields = filter_fields_};
  }

  void NoteRequestedSubjects(const registry::DatasetEntry& dataset) override {
    const std::string& subject_field = dataset.dataset.subject_field();
    if (subject_field.empty()) return;
    for (const v1::Filter& filter : request_->filters()) {
      if (filter.field() == subject_field && !filter.value().empty()) NoteSubject(filter.value());
    }
  }

  absl::Status ValidateValues(const google::protobuf::Descriptor& schema) const override {
    for (const v1::Filter& filter : request_->filters()) {
      NDX_RETURN_IF_ERROR(ValidateFieldValue(schema, filter.field(), filter.value(), "filter"));
    }
    return absl::OkStatus();
  }

  PageBinding Binding() const {
    return {.caller = caller(),
            .dataset = request_->dataset(),
            .grant_id = decision().grant->id(),
            .purpose = request_->purpose(),
            .filters = request_->filters(),
            .fields = decision().fields};
  }

  void Forward() override {
    std::string adapter_token;
    if (!request_->page_token().empty()) {
      absl::StatusOr<std::string> redeemed =
          page_tokens().Redeem(Binding(), request_->page_token());
      if (!redeemed.ok()) return Fail(redeemed.status());
      adapter_token = *std::move(redeemed);
    }
    absl::StatusOr<v1::Adapter::Stub*> stub =
        adapters()->Find(decision().owner->adapter_endpoint(), decision().owner->id());
    if (!stub.ok()) return Fail(stub.status());
    *search_.mutable_context() = AdapterContext();
    search_.set_dataset(request_->dataset());
    *search_.mutable_filters() = request_->filters();
    for (std::string& field : AdapterFields()) search_.add_fields(std::move(field));
    int page_size = request_->page_size() == 0 ? default_page_size_ : request_->page_size();
    search_.set_page_size(std::min(page_size, max_page_size_));
    search_.set_page_token(std::move(adapter_token));
    SetAdapterDeadline(&client_);
    (*stub)->async()->Search(&client_, &search_, &found_,
                             [this](grpc::Status status) { OnFound(status); });
  }

  void OnFound(const grpc::Status& status) {
    AdapterCallEnded(status);
    if (!status.ok()) return FailFromAdapter(status);
    if (found_.records_size() > search_.page_size()) {
      return Fail(
          absl::InternalError(absl::StrCat("the adapter returned ", found_.records_size(),
                                           " records for a page of ", search_.page_size())));
    }
    std::string type_url = absl::StrCat(kTypeUrlPrefix, decision().dataset->dataset.message_type());
    uint64_t bytes = 0;
    for (const std::string& record : found_.records()) {
      absl::Status noted = NoteRecordSubject(record);
      if (!noted.ok()) return Fail(std::move(noted));
      absl::StatusOr<std::string> projected = ProjectFields(record, decision().field_numbers);
      if (!projected.ok()) return Fail(projected.status());
      bytes += projected->size();
      google::protobuf::Any* any = response_->add_records();
      any->set_type_url(type_url);
      any->set_value(*std::move(projected));
    }
    response_->mutable_fields()->Assign(decision().fields.begin(), decision().fields.end());
    if (!found_.next_page_token().empty()) {
      response_->set_next_page_token(page_tokens().Issue(Binding(), found_.next_page_token()));
    }
    response_->set_request_id(request_id());
    Succeed(bytes, static_cast<uint32_t>(found_.records_size()));
  }

  const v1::QueryRequest* const request_;
  v1::QueryResponse* const response_;
  const int default_page_size_;
  const int max_page_size_;
  const std::vector<std::string> requested_fields_;
  std::vector<std::string> filter_fields_;
  grpc::ClientContext client_;
  v1::SearchRequest search_;
  v1::SearchResponse found_;
};

// The gRPC answer of a read: the request id as initial metadata (sent with the status), then the
// status, with the retry delay of an overload refusal also as a plain trailer.
ReadDone AnswerGrpc(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor) {
  return [context, reactor](absl::Status status, const std::string& request_id) {
    context->AddInitialMetadata("ndx-request-id", request_id);
    if (std::optional<absl::Duration> retry = RetryDelayOf(status)) {
      context->AddTrailingMetadata(kRetryAfterMsTrailer, absl::StrCat(RetryDelayMillis(*retry)));
    }
    reactor->Finish(ToGrpcStatus(status));
  };
}

}  // namespace

ReadOrigin ExchangeService::OriginOf(const grpc::CallbackServerContext& context) const {
  return {.caller = CallerNodeId(context, options_.callers),
          .deadline = context.deadline(),
          .connection = context.peer()};
}

void ExchangeService::StartGet(ReadOrigin origin, const v1::GetRequest* request,
                               v1::GetResponse* response, ReadDone done) {
  (new GetCall(this, std::move(origin), std::move(done), request, response))->Start();
}

void ExchangeService::StartQuery(ReadOrigin origin, const v1::QueryRequest* request,
                                 v1::QueryResponse* response, ReadDone done) {
  (new QueryCall(this, std::move(origin), std::move(done), request, response,
                 options_.default_page_size, options_.max_page_size))
      ->Start();
}

grpc::ServerUnaryReactor* ExchangeService::Get(grpc::CallbackServerContext* context,
                                               const v1::GetRequest* request,
                                               v1::GetResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  StartGet(OriginOf(*context), request, response, AnswerGrpc(context, reactor));
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::Query(grpc::CallbackServerContext* context,
                                                 const v1::QueryRequest* request,
                                                 v1::QueryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  StartQuery(OriginOf(*context), request, response, AnswerGrpc(context, reactor));
  return reactor;
}

}  // namespace ndx::gateway
