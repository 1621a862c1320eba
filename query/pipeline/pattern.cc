#include "query/pipeline/pattern.h"

#include <set>

namespace logq::pipeline {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdent(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

}  // namespace

Result<Pattern> Pattern::Parse(std::string_view text) {
  Pattern p;
  for (size_t i = 0; i < text.size();) {
    // identifier = '<' (alpha | '_') (alnum | '_')* '>'
    if (text[i] == '<' && i + 1 < text.size() && IsIdentStart(text[i + 1])) {
      size_t j = i + 2;
      while (j < text.size() && IsIdent(text[j])) ++j;
      if (j < text.size() && text[j] == '>') {
        Node n;
        n.capture = true;
        n.text = std::string(text.substr(i + 1, j - i - 1));
        n.named = n.text != "_";
        p.nodes_.push_back(std::move(n));
        i = j + 1;
        continue;
      }
    }
    if (p.nodes_.empty() || p.nodes_.back().capture) p.nodes_.push_back(Node{});
    p.nodes_.back().text += text[i];
    ++i;
  }
  for (const Node& n : p.nodes_) {
    if (n.capture && n.named) p.names_.push_back(n.text);
  }
  return p;
}

namespace {

Status CheckConsecutive(const std::vector<std::string_view>& texts, const std::vector<bool>& caps) {
  for (size_t i = 0; i + 1 < caps.size(); ++i) {
    if (caps[i] && caps[i + 1]) {
      return InvalidArgument("found consecutive capture '<" + std::string(texts[i]) + "><" + std::string(texts[i + 1]) +
                             ">': invalid expression");
    }
  }
  return Status::OK();
}

}  // namespace

Result<Pattern> Pattern::ParseForParser(std::string_view text) {
  if (text.empty()) return InvalidArgument("syntax error: unexpected $end, expecting IDENTIFIER or LITERAL");
  ASSIGN_OR_RETURN(Pattern p, Parse(text));
  if (p.names_.empty()) return InvalidArgument("at least one capture is required");
  std::vector<std::string_view> texts;
  std::vector<bool> caps;
  for (const Node& n : p.nodes_) {
    texts.push_back(n.text);
    caps.push_back(n.capture);
  }
  RETURN_IF_ERROR(CheckConsecutive(texts, caps));
  std::set<std::string> seen;
  for (const std::string& n : p.names_) {
    if (!seen.insert(n).second) return InvalidArgument("duplicate capture name (" + n + "): invalid expression");
  }
  return p;
}

Result<Pattern> Pattern::ParseForLineFilter(std::string_view text) {
  if (text.empty()) return Pattern();
  ASSIGN_OR_RETURN(Pattern p, Parse(text));
  std::vector<std::string_view> texts;
  std::vector<bool> caps;
  for (const Node& n : p.nodes_) {
    texts.push_back(n.text);
    caps.push_back(n.capture);
  }
  RETURN_IF_ERROR(CheckConsecutive(texts, caps));
  if (!p.names_.empty()) return InvalidArgument("named captures are not allowed");
  return p;
}

void Pattern::Matches(std::string_view in, std::vector<std::string_view>* captures) const {
  captures->clear();
  if (in.empty() || nodes_.empty()) return;
  size_t k = 0;
  if (!nodes_[0].capture) {
    if (in.substr(0, nodes_[0].text.size()) != nodes_[0].text) return;
    in.remove_prefix(nodes_[0].text.size());
    k = 1;
  }
  if (k == nodes_.size()) return;
  // From here: capture, literal, capture, ... (literal)?
  while (k < nodes_.size()) {
    const Node& cap = nodes_[k];
    if (k + 1 == nodes_.size()) {  // ending on a capture
      if (cap.named) captures->push_back(in);
      return;
    }
    const Node& lit = nodes_[k + 1];
    k += 2;
    const size_t i = in.find(lit.text);
    if (i == std::string_view::npos) {
      if (cap.named) captures->push_back(in);
      return;
    }
    if (cap.named) captures->push_back(in.substr(0, i));
    in.remove_prefix(i + lit.text.size());
  }
}

bool Pattern::Test(std::string_view in) const {
  if (in.empty() || nodes_.empty()) return in.empty() && nodes_.empty();
  size_t off = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].capture) continue;
    const size_t j = in.substr(off).find(nodes_[i].text);
    if (j == std::string_view::npos) return false;
    // A literal right where the previous one ended means an empty capture in between.
    if (i != 0 && j == 0) return false;
    off += j + nodes_[i].text.size();
  }
  const bool requires_rest = nodes_.back().capture;
  const bool has_rest = off != in.size();
  return requires_rest == has_rest;
}

}  // namespace logq::pipeline
