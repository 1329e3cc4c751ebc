#ifndef NDX_METRICS_EXPOSITION_H_
#define NDX_METRICS_EXPOSITION_H_

#include <prometheus/collectable.h>

#include <string>

#include "absl/types/span.h"

namespace ndx::metrics {

// The content type of RenderText's output: Prometheus's text exposition format 0.0.4.
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Collects every source now and renders their families in the text exposition format, in the
// order given. Thread-safe if the sources' Collect is.
std::string RenderText(absl::Span<const prometheus::Collectable* const> sources);

}  // namespace ndx::metrics

#endif  // NDX_METRICS_EXPOSITION_H_
