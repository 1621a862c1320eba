#include "query/pipeline/substring_search.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define LOGQ_X86 1
#endif

namespace logq::pipeline {
namespace {

inline char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }
inline bool IsLowerLetter(char c) { return c >= 'a' && c <= 'z'; }

bool EqualCaseInsensitive(const char* h, const char* lower_needle, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    if (LowerAscii(h[k]) != lower_needle[k]) return false;
  }
  return true;
}

size_t ScalarFind(std::string_view hay, std::string_view needle, bool ci, size_t from) {
  const size_t n = needle.size();
  if (!ci) {
    size_t p = hay.find(needle, from);
    return p;
  }
  for (size_t i = from; i + n <= hay.size(); ++i) {
    if (EqualCaseInsensitive(hay.data() + i, needle.data(), n)) return i;
  }
  return std::string_view::npos;
}

#if LOGQ_X86

// Block search: `mask` bit j set when block position j can start a match. Returns the
// first verified match in [0, limit) or npos, and the position where scanning stopped.
template <bool kCi>
inline bool Verify(const char* p, std::string_view needle) {
  const size_t n = needle.size();
  if (n <= 2) return true;  // first and last bytes already compared
  if constexpr (kCi) {
    return EqualCaseInsensitive(p + 1, needle.data() + 1, n - 2);
  } else {
    return std::memcmp(p + 1, needle.data() + 1, n - 2) == 0;
  }
}

template <bool kCi>
__attribute__((target("avx2"))) size_t FindAvx2(std::string_view hay, std::string_view needle, size_t* stop) {
  const size_t n = needle.size();
  const char* h = hay.data();
  const __m256i first = _mm256_set1_epi8(needle[0]);
  const __m256i last = _mm256_set1_epi8(needle[n - 1]);
  const __m256i fold_first = _mm256_set1_epi8((kCi && IsLowerLetter(needle[0])) ? 0x20 : 0);
  const __m256i fold_last = _mm256_set1_epi8((kCi && IsLowerLetter(needle[n - 1])) ? 0x20 : 0);
  size_t i = 0;
  for (; i + n - 1 + 32 <= hay.size(); i += 32) {
    __m256i bf = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i));
    __m256i bl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + n - 1));
    if constexpr (kCi) {
      bf = _mm256_or_si256(bf, fold_first);
      bl = _mm256_or_si256(bl, fold_last);
    }
    uint32_t mask = static_cast<uint32_t>(
        _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(bf, first), _mm256_cmpeq_epi8(bl, last))));
    while (mask != 0) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      if (Verify<kCi>(h + i + bit, needle)) return i + bit;
      mask &= mask - 1;
    }
  }
  *stop = i;
  return std::string_view::npos;
}

template <bool kCi>
size_t FindSse2(std::string_view hay, std::string_view needle, size_t* stop) {
  const size_t n = needle.size();
  const char* h = hay.data();
  const __m128i first = _mm_set1_epi8(needle[0]);
  const __m128i last = _mm_set1_epi8(needle[n - 1]);
  const __m128i fold_first = _mm_set1_epi8((kCi && IsLowerLetter(needle[0])) ? 0x20 : 0);
  const __m128i fold_last = _mm_set1_epi8((kCi && IsLowerLetter(needle[n - 1])) ? 0x20 : 0);
  size_t i = 0;
  for (; i + n - 1 + 16 <= hay.size(); i += 16) {
    __m128i bf = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
    __m128i bl = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i + n - 1));
    if constexpr (kCi) {
      bf = _mm_or_si128(bf, fold_first);
      bl = _mm_or_si128(bl, fold_last);
    }
    uint32_t mask = static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(bf, first), _mm_cmpeq_epi8(bl, last))));
    while (mask != 0) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      if (Verify<kCi>(h + i + bit, needle)) return i + bit;
      mask &= mask - 1;
    }
  }
  *stop = i;
  return std::string_view::npos;
}

const bool kHasAvx2 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}();

#endif  // LOGQ_X86

}  // namespace

SubstringSearcher::SubstringSearcher(std::string_view needle, bool case_insensitive)
    : needle_(needle), case_insensitive_(case_insensitive) {
  if (case_insensitive_) {
    for (char& c : needle_) c = LowerAscii(c);
  }
}

size_t SubstringSearcher::Find(std::string_view hay) const {
  const size_t n = needle_.size();
  if (n == 0) return 0;
  if (n > hay.size()) return std::string_view::npos;
  if (n == 1 && !case_insensitive_) {
    const void* p = std::memchr(hay.data(), needle_[0], hay.size());
    return p == nullptr ? std::string_view::npos : static_cast<size_t>(static_cast<const char*>(p) - hay.data());
  }
#if LOGQ_X86
  size_t stop = 0;
  size_t found;
  if (kHasAvx2) {
    found = case_insensitive_ ? FindAvx2<true>(hay, needle_, &stop) : FindAvx2<false>(hay, needle_, &stop);
  } else {
    found = case_insensitive_ ? FindSse2<true>(hay, needle_, &stop) : FindSse2<false>(hay, needle_, &stop);
  }
  if (found != std::string_view::npos) return found;
  return ScalarFind(hay, needle_, case_insensitive_, stop);
#else
  return ScalarFind(hay, needle_, case_insensitive_, 0);
#endif
}

}  // namespace logq::pipeline
