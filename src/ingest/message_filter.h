// Which messages a sink run skips: conditions on attributes, from the sink's --error-type,
// --exclude-error-message, --where and --where-not (SinkOptions). A filter sees every attribute
// of a message, error attributes included, and counts how often each condition held, so a
// condition that matched nothing can be reported.
// Thread-safety: a compiled MessageFilter is immutable and safe to share. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "core/status.h"
#include "ingest/pubsub.h"

namespace backfill::ingest {

class MessageFilter {
 public:
  // `error_types`: only messages with one of these error_type; `exclude_error_message`: a
  // std::regex searched in error_message skips the message; `where` / `where_not`: "ATTR=VALUE"
  // (equal) or "ATTR~REGEX" (std::regex searched), see SinkOptions. kInvalidArgument for a
  // malformed condition or regular expression.
  static Result<MessageFilter> Compile(const std::vector<std::string>& error_types,
                                       const std::optional<std::string>& exclude_error_message,
                                       const std::vector<std::string>& where,
                                       const std::vector<std::string>& where_not);

  // The conditions, in the order given, as the user gave them ("--where document_namespace=x").
  size_t size() const { return conditions_.size(); }
  const std::string& text(size_t i) const { return conditions_[i].text; }

  // Whether the filter skips `m`: any excluding condition holds, or, for some attribute with
  // keeping conditions, none of them holds (two values of one attribute are alternatives).
  // Adds to `(*matches)[i]` when condition i held (resized to size()).
  bool Skips(const PubsubMessage& m, std::vector<int64_t>* matches) const;

 private:
  // One condition on an attribute; a missing attribute satisfies none.
  struct Condition {
    std::string text;  // as the user gave it, for the report
    std::string attribute;
    std::string value;             // for equality
    std::optional<std::regex> re;  // for "~"
    bool exclude = false;

    bool Holds(const PubsubMessage& m) const;
  };
  static Result<Condition> Parse(const std::string& flag, const std::string& text, bool exclude);

  std::vector<Condition> conditions_;
};

}  // namespace backfill::ingest
