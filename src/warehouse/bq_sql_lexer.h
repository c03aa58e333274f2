// The tokenizer of the BigQuery dialect layer (bq_sql.h): GoogleSQL text to tokens that keep
// their spelling, position and the whitespace before them, and the decoding of string literals.
// Internal to the dialect layer (bq_sql.cc, bq_sql_lexer.cc). Pure, thread-safe.
#pragma once

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace backfill::bq_sql_internal {

enum class TokenKind {
  kWord,        // identifier or keyword, unquoted
  kQuotedName,  // `backticked`
  kString,      // '...', "...", r'...', b'...', '''...'''
  kNumber,
  kParam,   // @name (value = "name"), @@name (value = "@name")
  kSymbol,  // operators and punctuation
  kEnd,     // one past the last token; carries the end position
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;   // the source spelling
  std::string upper;  // kWord: uppercased, for keyword and function lookup
  // Whitespace before the token, comments folded into a space. Re-emitting it keeps the
  // user's layout (and newlines), so DuckDB error messages still point at recognisable text.
  std::string space;
  size_t begin = 0;
  size_t end = 0;
  int line = 1;
  int column = 1;
  // kString details: the body between the quotes, still escaped.
  std::string body;
  bool raw = false;
  bool bytes = false;
  bool triple = false;
};

inline bool IsWordStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
inline bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
inline bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string Upper(std::string_view s);
std::string Lower(std::string_view s);
std::string Trim(std::string_view s);
// "(at L:C)", how every error of the dialect layer gives a position.
std::string Where(int line, int column);

// Splits SQL text into tokens, the last one kEnd. Lenient about what it does not understand
// (an unknown character becomes a one-character symbol the translator refuses) so that
// SplitSqlStatements can cut scripts that hold statements refused later; strict only about
// unterminated strings, quoted names and comments, since then no statement boundary can be
// trusted.
Result<std::vector<Token>> Tokenize(std::string_view src);

// The value of a (non-triple, non-bytes) string literal, with GoogleSQL escapes decoded.
Result<std::string> DecodeString(const Token& t);

}  // namespace backfill::bq_sql_internal
