// The tokenizer of bq_sql_lexer.h.
#include "warehouse/bq_sql_lexer.h"

#include <array>
#include <cstdint>

#include <fmt/format.h>

namespace backfill::bq_sql_internal {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string Where(int line, int column) { return fmt::format("(at {}:{})", line, column); }

namespace {

// Splits SQL text into tokens. Lenient about what it does not understand (an unknown character
// becomes a one-character symbol the translator refuses) so that SplitSqlStatements can cut
// scripts that hold statements we will refuse later; strict only about unterminated strings,
// quoted names and comments, since then no statement boundary can be trusted.
class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    std::string space;
    while (true) {
      BF_RETURN_IF_ERROR(SkipSpaceAndComments(&space));
      Token t;
      t.begin = pos_;
      t.line = line_;
      t.column = column_;
      t.space = std::move(space);
      space.clear();
      if (pos_ >= src_.size()) {
        t.kind = TokenKind::kEnd;
        t.end = pos_;
        tokens.push_back(std::move(t));
        return tokens;
      }
      BF_RETURN_IF_ERROR(Next(&t));
      t.end = pos_;
      t.text = std::string(src_.substr(t.begin, t.end - t.begin));
      if (t.kind == TokenKind::kWord) t.upper = Upper(t.text);
      tokens.push_back(std::move(t));
    }
  }

 private:
  char At(size_t k) const { return pos_ + k < src_.size() ? src_[pos_ + k] : '\0'; }

  void Advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < src_.size(); ++i, ++pos_) {
      if (src_[pos_] == '\n') {
        ++line_;
        column_ = 1;
      } else {
        ++column_;
      }
    }
  }

  Status SkipSpaceAndComments(std::string* space) {
    while (pos_ < src_.size()) {
      char c = At(0);
      if (std::isspace(static_cast<unsigned char>(c))) {
        space->push_back(c);
        Advance();
      } else if (c == '#' || (c == '-' && At(1) == '-')) {
        // The newline that ends a line comment is kept as the separator.
        while (pos_ < src_.size() && At(0) != '\n') Advance();
      } else if (c == '/' && At(1) == '*') {
        int line = line_;
        int column = column_;
        Advance(2);
        while (pos_ < src_.size() && !(At(0) == '*' && At(1) == '/')) Advance();
        if (pos_ >= src_.size()) {
          return InvalidArgument(fmt::format("unterminated /* comment {}", Where(line, column)));
        }
        Advance(2);
        if (space->empty() || !std::isspace(static_cast<unsigned char>(space->back())))
          space->push_back(' ');
      } else {
        break;
      }
    }
    return Status::Ok();
  }

  Status Next(Token* t) {
    char c = At(0);
    if (IsWordStart(c)) {
      size_t n = 0;
      while (IsWordChar(At(n))) ++n;
      // String prefixes: r'..' raw, b'..' bytes, rb/br both.
      char q = At(n);
      if ((q == '\'' || q == '"') && n <= 2) {
        std::string prefix = Lower(src_.substr(pos_, n));
        if (prefix == "r" || prefix == "b" || prefix == "rb" || prefix == "br") {
          t->raw = prefix.find('r') != std::string::npos;
          t->bytes = prefix.find('b') != std::string::npos;
          Advance(n);
          return String(t);
        }
      }
      t->kind = TokenKind::kWord;
      Advance(n);
      return Status::Ok();
    }
    if (c == '\'' || c == '"') return String(t);
    if (c == '`') {
      Advance();
      std::string value;
      while (pos_ < src_.size() && At(0) != '`') {
        if (At(0) == '\\' && pos_ + 1 < src_.size()) {
          value.push_back(At(1));
          Advance(2);
          continue;
        }
        value.push_back(At(0));
        Advance();
      }
      if (pos_ >= src_.size()) {
        return InvalidArgument(
            fmt::format("unterminated `quoted name` {}", Where(t->line, t->column)));
      }
      Advance();
      t->kind = TokenKind::kQuotedName;
      t->body = std::move(value);
      return Status::Ok();
    }
    if (IsDigit(c) || (c == '.' && IsDigit(At(1)))) {
      while (IsDigit(At(0))) Advance();
      // "2." is a number, but in my-proj-123.ds.t the dot separates name parts.
      if (At(0) == '.' && !IsWordStart(At(1))) {
        Advance();
        while (IsDigit(At(0))) Advance();
      }
      if ((At(0) == 'e' || At(0) == 'E') &&
          (IsDigit(At(1)) || ((At(1) == '+' || At(1) == '-') && IsDigit(At(2))))) {
        Advance(2);
        while (IsDigit(At(0))) Advance();
      }
      // Glue trailing word characters (0x1F, 12abc) onto the token so the translator can
      // refuse the whole thing instead of reading it as a number followed by an alias.
      while (IsWordChar(At(0))) Advance();
      t->kind = TokenKind::kNumber;
      return Status::Ok();
    }
    if (c == '@') {
      size_t n = At(1) == '@' ? 2 : 1;
      if (IsWordStart(At(n))) {
        Advance(n);
        while (IsWordChar(At(0))) Advance();
        t->kind = TokenKind::kParam;
        return Status::Ok();
      }
    }
    static constexpr std::array<std::string_view, 10> kTwoChar = {"<=", ">=", "<>", "!=", "||",
                                                                  "<<", ">>", "=>", "->", "::"};
    t->kind = TokenKind::kSymbol;
    for (std::string_view op : kTwoChar) {
      if (src_.substr(pos_, 2) == op) {
        Advance(2);
        return Status::Ok();
      }
    }
    Advance();
    return Status::Ok();
  }

  Status String(Token* t) {
    char q = At(0);
    t->kind = TokenKind::kString;
    t->triple = At(1) == q && At(2) == q;
    size_t quote_len = t->triple ? 3 : 1;
    Advance(quote_len);
    size_t body_begin = pos_;
    while (true) {
      if (pos_ >= src_.size() || (!t->triple && At(0) == '\n')) {
        return InvalidArgument(
            fmt::format("unterminated string literal {}", Where(t->line, t->column)));
      }
      if (At(0) == '\\') {
        // Even in raw strings a backslash keeps the next quote from closing the literal.
        Advance(2);
        continue;
      }
      if (At(0) == q && (!t->triple || (At(1) == q && At(2) == q))) break;
      Advance();
    }
    t->body = std::string(src_.substr(body_begin, pos_ - body_begin));
    Advance(quote_len);
    return Status::Ok();
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view src) { return Lexer(src).Run(); }

Result<std::string> DecodeString(const Token& t) {
  if (t.raw) return t.body;
  std::string out;
  const std::string& b = t.body;
  auto bad = [&](std::string_view esc) {
    return InvalidArgument(fmt::format("invalid escape sequence '{}' in string literal {}", esc,
                                       Where(t.line, t.column)));
  };
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i] != '\\') {
      out.push_back(b[i]);
      continue;
    }
    if (i + 1 >= b.size()) return bad("\\");
    char e = b[++i];
    auto hex = [&](size_t digits) -> Result<uint32_t> {
      uint32_t v = 0;
      for (size_t k = 1; k <= digits; ++k) {
        if (i + k >= b.size() || !std::isxdigit(static_cast<unsigned char>(b[i + k]))) {
          return bad(b.substr(i - 1, k + 1));
        }
        char h = b[i + k];
        v = v * 16 + static_cast<uint32_t>(IsDigit(h) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      i += digits;
      return v;
    };
    uint32_t cp = 0;
    switch (e) {
      case 'a':
        out.push_back('\a');
        continue;
      case 'b':
        out.push_back('\b');
        continue;
      case 'f':
        out.push_back('\f');
        continue;
      case 'n':
        out.push_back('\n');
        continue;
      case 'r':
        out.push_back('\r');
        continue;
      case 't':
        out.push_back('\t');
        continue;
      case 'v':
        out.push_back('\v');
        continue;
      case '\\':
      case '?':
      case '"':
      case '\'':
      case '`':
        out.push_back(e);
        continue;
      case 'x':
      case 'X': {
        BF_ASSIGN_OR_RETURN(cp, hex(2));
        break;
      }
      case 'u': {
        BF_ASSIGN_OR_RETURN(cp, hex(4));
        break;
      }
      case 'U': {
        BF_ASSIGN_OR_RETURN(cp, hex(8));
        break;
      }
      default:
        if (e >= '0' && e <= '7' && i + 2 < b.size() && b[i + 1] >= '0' && b[i + 1] <= '7' &&
            b[i + 2] >= '0' && b[i + 2] <= '7') {
          cp = static_cast<uint32_t>((e - '0') * 64 + (b[i + 1] - '0') * 8 + (b[i + 2] - '0'));
          i += 2;
          break;
        }
        return bad(b.substr(i - 1, 2));
    }
    // DuckDB strings cannot hold NUL, and lone surrogates are not text.
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return InvalidArgument(
          fmt::format("string literal escape for code point {:#x} is not allowed {}", cp,
                      Where(t.line, t.column)));
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

}  // namespace backfill::bq_sql_internal
