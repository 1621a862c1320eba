// Clock: the one seam through which logic code reads time, so tests can fake it.
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace logq {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time as nanoseconds since the Unix epoch.
  virtual int64_t NowNanos() const = 0;
  // Monotonic time in nanoseconds from an arbitrary origin; use for durations and timers.
  virtual int64_t MonotonicNanos() const = 0;
};

// The real clock (system_clock / steady_clock). Stateless; Default() lives forever.
class SystemClock final : public Clock {
 public:
  static SystemClock* Default();
  int64_t NowNanos() const override;
  int64_t MonotonicNanos() const override;
};

// A clock tests move by hand. Both times advance together.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_nanos) : now_(now_nanos), mono_(0) {}
  int64_t NowNanos() const override { return now_.load(); }
  int64_t MonotonicNanos() const override { return mono_.load(); }
  void Advance(int64_t nanos) {
    now_ += nanos;
    mono_ += nanos;
  }
  void SetNow(int64_t nanos) { now_ = nanos; }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> mono_;
};

inline constexpr int64_t kNanosPerMilli = 1'000'000;
inline constexpr int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr int64_t kNanosPerMinute = 60 * kNanosPerSecond;
inline constexpr int64_t kNanosPerHour = 60 * kNanosPerMinute;
inline constexpr int64_t kNanosPerDay = 24 * kNanosPerHour;

}  // namespace logq
