#include "ingest/message_filter.h"

#include <map>
#include <string_view>

#include <fmt/format.h>

namespace backfill::ingest {

bool MessageFilter::Condition::Holds(const PubsubMessage& m) const {
  const std::string* v = m.FindAttribute(attribute);
  if (!v) return false;
  return re ? std::regex_search(*v, *re) : *v == value;
}

Result<MessageFilter::Condition> MessageFilter::Parse(const std::string& flag,
                                                      const std::string& text, bool exclude) {
  size_t at = text.find_first_of("=~");
  if (at == std::string::npos || at == 0) {
    return InvalidArgument(fmt::format("{} '{}': expected ATTR=VALUE or ATTR~REGEX", flag, text));
  }
  Condition c;
  c.text = fmt::format("{} {}", flag, text);
  c.attribute = text.substr(0, at);
  c.exclude = exclude;
  if (text[at] == '=') {
    c.value = text.substr(at + 1);
    return c;
  }
  try {
    c.re = std::regex(text.substr(at + 1));
  } catch (const std::regex_error& e) {
    return InvalidArgument(
        fmt::format("{} '{}': invalid regular expression: {}", flag, text, e.what()));
  }
  return c;
}

Result<MessageFilter> MessageFilter::Compile(
    const std::vector<std::string>& error_types,
    const std::optional<std::string>& exclude_error_message, const std::vector<std::string>& where,
    const std::vector<std::string>& where_not) {
  MessageFilter f;
  std::vector<Condition>& out = f.conditions_;
  for (const auto& t : error_types) {
    Condition c;
    c.text = "--error-type " + t;
    c.attribute = "error_type";
    c.value = t;
    out.push_back(std::move(c));
  }
  if (exclude_error_message) {
    Condition c;
    c.text = "--exclude-error-message " + *exclude_error_message;
    c.attribute = "error_message";
    c.exclude = true;
    try {
      c.re = std::regex(*exclude_error_message);
    } catch (const std::regex_error& e) {
      return InvalidArgument(
          fmt::format("invalid regular expression '{}': {}", *exclude_error_message, e.what()));
    }
    out.push_back(std::move(c));
  }
  for (const auto& t : where) {
    BF_ASSIGN_OR_RETURN(Condition c, Parse("--where", t, false));
    out.push_back(std::move(c));
  }
  for (const auto& t : where_not) {
    BF_ASSIGN_OR_RETURN(Condition c, Parse("--where-not", t, true));
    out.push_back(std::move(c));
  }
  return f;
}

bool MessageFilter::Skips(const PubsubMessage& m, std::vector<int64_t>* matches) const {
  if (conditions_.empty()) return false;
  matches->resize(conditions_.size());
  // Kept conditions grouped by attribute: each group needs one that holds.
  std::map<std::string_view, bool> groups;
  bool excluded = false;
  for (size_t i = 0; i < conditions_.size(); ++i) {
    const Condition& c = conditions_[i];
    bool holds = c.Holds(m);
    (*matches)[i] += holds;
    if (c.exclude) {
      excluded = excluded || holds;
    } else {
      bool& g = groups[c.attribute];
      g = g || holds;
    }
  }
  if (excluded) return true;
  for (const auto& [_, any] : groups) {
    if (!any) return true;
  }
  return false;
}

}  // namespace backfill::ingest
