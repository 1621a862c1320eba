#include "shipper/discovery/glob.h"

#include <algorithm>
#include <set>

namespace logq::shipper {
namespace {

bool IsMeta(char c) { return c == '*' || c == '?' || c == '[' || c == '{' || c == '\\'; }

// Index of the ']' closing the class that starts at p[i] == '[', or npos.
size_t ClassEnd(std::string_view p, size_t i) {
  size_t j = i + 1;
  if (j < p.size() && (p[j] == '^' || p[j] == '!')) ++j;
  bool any = false;
  for (; j < p.size(); ++j) {
    if (p[j] == '\\') {
      ++j;
      any = true;
      continue;
    }
    if (p[j] == ']' && any) return j;
    any = true;
  }
  return std::string_view::npos;
}

// Matches one character `c` against the class p[i..end] ('[' ... ']').
bool ClassMatches(std::string_view p, size_t i, size_t end, unsigned char c) {
  size_t j = i + 1;
  bool negate = false;
  if (p[j] == '^' || p[j] == '!') {
    negate = true;
    ++j;
  }
  bool hit = false;
  while (j < end) {
    unsigned char lo = static_cast<unsigned char>(p[j]);
    if (lo == '\\' && j + 1 < end) lo = static_cast<unsigned char>(p[++j]);
    ++j;
    unsigned char hi = lo;
    if (j + 1 < end && p[j] == '-') {
      hi = static_cast<unsigned char>(p[j + 1]);
      if (hi == '\\' && j + 2 < end) {
        hi = static_cast<unsigned char>(p[j + 2]);
        ++j;
      }
      j += 2;
    }
    if (c >= lo && c <= hi) hit = true;
  }
  return hit != negate;
}

// Matches p[pi..] against n[ni..] (no '*' handling: one token).
// Returns the pattern length of the token at p[pi] and whether it matches n[ni].
bool TokenMatches(std::string_view p, size_t pi, unsigned char c, size_t* len) {
  if (p[pi] == '?') {
    *len = 1;
    return c != '/';
  }
  if (p[pi] == '[') {
    size_t end = ClassEnd(p, pi);
    if (end == std::string_view::npos) {  // validated at parse time; literal '[' otherwise
      *len = 1;
      return c == '[';
    }
    *len = end - pi + 1;
    return c != '/' && ClassMatches(p, pi, end, c);
  }
  if (p[pi] == '\\' && pi + 1 < p.size()) {
    *len = 2;
    return c == static_cast<unsigned char>(p[pi + 1]);
  }
  *len = 1;
  return c == static_cast<unsigned char>(p[pi]);
}

// Index of the '}' closing p[i] == '{' (nested braces, escapes, classes skipped), or npos.
size_t BraceEnd(std::string_view p, size_t i) {
  int depth = 0;
  for (size_t j = i; j < p.size(); ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[') {
      size_t e = ClassEnd(p, j);
      if (e != std::string_view::npos) j = e;
    } else if (p[j] == '{') {
      ++depth;
    } else if (p[j] == '}') {
      if (--depth == 0) return j;
    }
  }
  return std::string_view::npos;
}

Status Expand(std::string_view p, std::vector<std::string>* out, std::string_view whole) {
  size_t open = std::string_view::npos;
  for (size_t j = 0; j < p.size(); ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[') {
      size_t e = ClassEnd(p, j);
      if (e == std::string_view::npos) {
        return InvalidArgument("__path__ glob \"" + std::string(whole) + "\": unclosed '['");
      }
      j = e;
    } else if (p[j] == '{') {
      open = j;
      break;
    }
  }
  if (open == std::string_view::npos) {
    if (out->size() >= kMaxGlobAlternatives) {
      return InvalidArgument("__path__ glob \"" + std::string(whole) + "\": more than " +
                             std::to_string(kMaxGlobAlternatives) + " {...} alternatives");
    }
    out->emplace_back(p);
    return Status::OK();
  }
  size_t close = BraceEnd(p, open);
  if (close == std::string_view::npos) {
    return InvalidArgument("__path__ glob \"" + std::string(whole) + "\": unclosed '{'");
  }
  std::string_view prefix = p.substr(0, open), suffix = p.substr(close + 1);
  // Top-level commas of the brace body.
  std::vector<std::string_view> options;
  size_t start = open + 1;
  int depth = 0;
  for (size_t j = open + 1; j < close; ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[') {
      size_t e = ClassEnd(p, j);
      if (e != std::string_view::npos) j = e;
    } else if (p[j] == '{') {
      ++depth;
    } else if (p[j] == '}') {
      --depth;
    } else if (p[j] == ',' && depth == 0) {
      options.push_back(p.substr(start, j - start));
      start = j + 1;
    }
  }
  options.push_back(p.substr(start, close - start));
  for (std::string_view o : options) {
    std::string s;
    s.reserve(prefix.size() + o.size() + suffix.size());
    s.append(prefix).append(o).append(suffix);
    RETURN_IF_ERROR(Expand(s, out, whole));
  }
  return Status::OK();
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool IsLiteral(std::string_view c) {
  return std::none_of(c.begin(), c.end(), IsMeta);
}

}  // namespace

bool MatchComponent(std::string_view p, std::string_view n) {
  // Iterative '*' matching with one backtrack point (the classic two-pointer algorithm).
  size_t pi = 0, ni = 0;
  size_t star_p = std::string_view::npos, star_n = 0;
  while (ni < n.size()) {
    if (pi < p.size() && p[pi] == '*') {
      while (pi < p.size() && p[pi] == '*') ++pi;  // "**" inside a component is '*'
      star_p = pi;
      star_n = ni;
      continue;
    }
    size_t len = 0;
    if (pi < p.size() && TokenMatches(p, pi, static_cast<unsigned char>(n[ni]), &len)) {
      pi += len;
      ++ni;
      continue;
    }
    if (star_p == std::string_view::npos || n[star_n] == '/') return false;
    pi = star_p;
    ni = ++star_n;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

Result<PathGlob> PathGlob::Parse(std::string_view pattern) {
  if (pattern.empty() || pattern[0] != '/') {
    return InvalidArgument("__path__ glob \"" + std::string(pattern) + "\" must be an absolute path");
  }
  std::vector<std::string> expanded;
  RETURN_IF_ERROR(Expand(pattern, &expanded, pattern));
  PathGlob g;
  g.pattern_ = std::string(pattern);
  for (const std::string& e : expanded) {
    Alt a;
    for (std::string_view c : SplitPath(e)) a.comps.emplace_back(c);
    if (a.comps.empty()) {
      return InvalidArgument("__path__ glob \"" + std::string(pattern) + "\" names no file");
    }
    g.alts_.push_back(std::move(a));
  }
  return g;
}

std::vector<size_t> PathGlob::Reach(const Alt& a, std::string_view dir) const {
  std::vector<char> cur(a.comps.size() + 1, 0), next(a.comps.size() + 1, 0);
  auto close = [&](std::vector<char>& s) {
    for (size_t i = 0; i < a.comps.size(); ++i) {
      if (s[i] && a.comps[i] == "**") s[i + 1] = 1;
    }
  };
  cur[0] = 1;
  close(cur);
  for (std::string_view c : SplitPath(dir)) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (size_t i = 0; i < a.comps.size(); ++i) {
      if (!cur[i]) continue;
      if (a.comps[i] == "**") {
        next[i] = 1;
        any = true;
      } else if (MatchComponent(a.comps[i], c)) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) return {};
    close(next);
    cur.swap(next);
  }
  std::vector<size_t> out;
  for (size_t i = 0; i <= a.comps.size(); ++i) {
    if (cur[i]) out.push_back(i);
  }
  return out;
}

bool PathGlob::Matches(std::string_view path) const {
  for (const Alt& a : alts_) {
    for (size_t i : Reach(a, path)) {
      if (i == a.comps.size()) return true;
    }
  }
  return false;
}

bool PathGlob::MayHaveFilesIn(std::string_view dir) const {
  for (const Alt& a : alts_) {
    for (size_t i : Reach(a, dir)) {
      size_t literal = 0;
      bool star = false;
      for (size_t j = i; j < a.comps.size(); ++j) {
        if (a.comps[j] == "**") star = true;
        else ++literal;
      }
      if (literal == 1 || (literal == 0 && star)) return true;
    }
  }
  return false;
}

bool PathGlob::MayDescend(std::string_view dir) const {
  for (const Alt& a : alts_) {
    for (size_t i : Reach(a, dir)) {
      size_t literal = 0;
      bool star = false;
      for (size_t j = i; j < a.comps.size(); ++j) {
        if (a.comps[j] == "**") star = true;
        else ++literal;
      }
      if (star || literal >= 2) return true;
    }
  }
  return false;
}

std::vector<std::string> PathGlob::Roots() const {
  std::set<std::string> roots;
  for (const Alt& a : alts_) {
    std::string r;
    for (size_t i = 0; i + 1 < a.comps.size() && IsLiteral(a.comps[i]); ++i) r += "/" + a.comps[i];
    roots.insert(r.empty() ? "/" : r);
  }
  std::vector<std::string> out;
  for (const std::string& r : roots) {
    bool nested = false;
    for (const std::string& o : out) {
      if (o == "/" || (r.size() > o.size() && r.compare(0, o.size(), o) == 0 && r[o.size()] == '/')) nested = true;
    }
    if (!nested) out.push_back(r);
  }
  return out;
}

}  // namespace logq::shipper
