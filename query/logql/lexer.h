// LogQL lexer (internal to query/logql). Tokens carry their byte offset for error positions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"

namespace logq::logql {

enum class Tok {
  kEof, kIdent, kString, kNumber, kDuration, kBytes, kParserFlag,
  kLBrace, kRBrace, kLParen, kRParen, kLBracket, kRBracket, kComma, kDot,
  kEq, kCmpEq, kNeq, kRe, kNre, kNpa, kPipeExact, kPipeMatch, kPipePattern, kPipe,
  kGt, kGte, kLt, kLte, kAdd, kSub, kMul, kDiv, kMod, kPow,
};

struct Token {
  Tok type = Tok::kEof;
  std::string text;   // identifier/flag name, unquoted string, or number/duration source
  size_t pos = 0;     // byte offset in the query
  double number = 0;  // kNumber
  std::string number_error;  // kNumber whose text is no Go float (e.g. "0x10"): Go's error text
  int64_t duration = 0;  // kDuration (ns)
  int64_t bytes = 0;  // kBytes
};

// Tokenizes the whole query. Errors carry the position of the bad token.
Result<std::vector<Token>> Lex(std::string_view query);

// strconv.ParseFloat(text, 64): decimal or hex-float text; errors carry Go's message
// ("strconv.ParseFloat: parsing \"0x10\": invalid syntax").
Result<double> ParseGoFloat(std::string_view text);

// "IDENTIFIER", "STRING", "|=", ... as Loki's yacc names them, for error messages.
std::string TokenName(const Token& t);

// "parse error at line L, col C: msg" for byte offset `pos` of `query`.
Status ParseErrorAt(std::string_view query, size_t pos, const std::string& msg);

}  // namespace logq::logql
