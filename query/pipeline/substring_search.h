// Substring search for line filters: a precompiled needle searched in many haystacks.
// Case-sensitive search and ASCII case-insensitive search (the needle's ASCII letters match
// either case; other bytes match exactly). Uses AVX2 when the CPU has it (checked once at
// startup), SSE2 otherwise: candidates are positions where both the needle's first and last
// bytes match, verified with memcmp. Immutable after construction; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace logq::pipeline {

class SubstringSearcher {
 public:
  SubstringSearcher() = default;
  // An empty needle matches every haystack.
  SubstringSearcher(std::string_view needle, bool case_insensitive);

  // Offset of the first occurrence, or std::string_view::npos.
  size_t Find(std::string_view haystack) const;
  bool Contains(std::string_view haystack) const { return Find(haystack) != std::string_view::npos; }

  const std::string& needle() const { return needle_; }  // lower-cased when case-insensitive
  bool case_insensitive() const { return case_insensitive_; }

 private:
  std::string needle_;
  bool case_insensitive_ = false;
};

}  // namespace logq::pipeline
