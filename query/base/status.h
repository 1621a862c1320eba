// Status and Result<T>: the error currency of every logq module.
//
// A Status is either OK or carries a code and a human-readable message meant for the
// user (it may end up verbatim in an HTTP body or a CLI error line, so it never contains
// file paths of the server or stack traces). Result<T> holds either a T or a non-OK Status.
// Both are value types; not thread-safe for concurrent mutation, safe to copy across threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace logq {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,     // bad input from a user: HTTP 400
  kNotFound = 2,            // HTTP 404
  kResourceExhausted = 3,   // a limit was hit and a retry may succeed: HTTP 429
  kTooLarge = 4,            // request body over a size limit: HTTP 413
  kUnauthenticated = 5,     // HTTP 401
  kUnavailable = 6,         // temporarily unable to serve (not ready, disk full): HTTP 503
  kDeadlineExceeded = 7,    // HTTP 504
  kCancelled = 8,           // HTTP 499
  kDataLoss = 9,            // corruption detected: HTTP 500
  kInternal = 10,           // a bug or an unexpected failure: HTTP 500
  kFailedPrecondition = 11, // HTTP 400
  kUnimplemented = 12,      // HTTP 501
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "prefix: message".
  Status WithPrefix(std::string_view prefix) const;

  bool operator==(const Status& o) const { return code_ == o.code_ && message_ == o.message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace logq

#define LOGQ_CONCAT_INNER(a, b) a##b
#define LOGQ_CONCAT(a, b) LOGQ_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    ::logq::Status _st = (expr);              \
    if (!_st.ok()) return _st;                \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(LOGQ_CONCAT(_result_, __LINE__), lhs, expr)
