// PushObserver: the ingester's hook for live tailing. After a push was written durably,
// the ingester hands the accepted entries to the observer (if one is set and it wants the
// tenant). The observer must only queue them: it runs on the pushing thread, so anything
// slow there would slow every push.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "query/model/labels.h"
#include "store/api/push.h"

namespace logq::ingest {

// One stream's accepted entries of one push, in the order they were pushed.
struct PushedStream {
  Labels labels;  // sorted stream labels
  uint64_t fp = 0;
  std::vector<api::PushEntry> entries;
};

class PushObserver {
 public:
  virtual ~PushObserver() = default;
  // Cheap check on the push path; when false, nothing is copied and OnPushed is not called.
  // Thread-safe.
  virtual bool Wants(std::string_view tenant) const = 0;
  // Takes the accepted entries of one push (after the write). Must return quickly and never
  // block on a client. Thread-safe (called concurrently by pushes).
  virtual void OnPushed(std::string_view tenant, std::vector<PushedStream>&& streams) = 0;
};

}  // namespace logq::ingest
