#include "ingest/error_summary.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "ingest/bq_values.h"
#include "ingest/input_file.h"
#include "ingest/sink.h"

namespace backfill::ingest {

namespace fs = std::filesystem;

const char* ErrorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kInfrastructure:
      return "infrastructure";
    case ErrorClass::kData:
      return "data";
    case ErrorClass::kUnclassified:
      return "unclassified";
  }
  return "unclassified";
}

Result<ErrorClass> ParseErrorClass(std::string_view name) {
  if (name == "infrastructure") return ErrorClass::kInfrastructure;
  if (name == "data") return ErrorClass::kData;
  if (name == "unclassified") return ErrorClass::kUnclassified;
  return InvalidArgument(fmt::format(
      "unknown error class '{}' (expected infrastructure, data or unclassified)", name));
}

namespace {

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.empty() || needle.size() > hay.size()) return false;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                        [&](char a, char b) { return lower(a) == lower(b); });
  return it != hay.end();
}

constexpr const char* kErrorFields[] = {"error_type", "exception_class", "error_message"};

bool ValidField(std::string_view f) {
  return f == "any" || f == "error_type" || f == "exception_class" || f == "error_message";
}

}  // namespace

bool ErrorRule::Matches(const PubsubMessage& m) const {
  for (const char* f : kErrorFields) {
    if (field != "any" && field != f) continue;
    if (const std::string* v = m.FindAttribute(f); v && ContainsNoCase(*v, contains)) return true;
  }
  return false;
}

std::string ErrorRule::Describe() const {
  return fmt::format("{} ({} contains \"{}\")", name, field, contains);
}

const std::vector<ErrorRule>& DefaultErrorRules() {
  // What gcp-ingestion's sinks and ours write: BigQuery's rateLimitExceeded / quotaExceeded
  // reasons, gRPC UNAVAILABLE / DEADLINE_EXCEEDED, the Beam Sink's KeyByBigQueryTableDestination
  // lookup failure ("Resolved destination table does not exist"), our sink's "table not found";
  // on the data side the Beam decoders' and our sink's parse, schema and size failures.
  static const std::vector<ErrorRule> rules = [] {
    std::vector<ErrorRule> r;
    auto add = [&](const char* name, const char* field, std::initializer_list<const char*> texts,
                   ErrorClass c) {
      for (const char* t : texts) r.push_back({fmt::format("default:{}", name), field, t, c});
    };
    const auto infra = ErrorClass::kInfrastructure, data = ErrorClass::kData;
    add("rate-limit", "any", {"RateLimit", "rate limit", "Too Many Requests"}, infra);
    add("quota", "any", {"quota"}, infra);
    add("timeout", "any", {"timeout", "timed out", "deadline", "DEADLINE_EXCEEDED"}, infra);
    // Not a bare "503": it also matches a line number or a size in a data error's message.
    add("unavailable", "any",
        {"UNAVAILABLE", "HTTP 503", "code 503", "status 503", "backendError", "ConnectException",
         "SocketException"},
        infra);
    add("lookup", "any",
        {"KeyByBigQueryTableDestination", "destination table does not exist", "table not found"},
        infra);
    add("size", "any", {"too large", "TooLarge", "exceeds", "size limit"}, data);
    add("parse", "any", {"parse", "not valid JSON", "JsonProcessing", "malformed"}, data);
    add("schema", "any", {"schema", "Transform", "Write", "no such field", "invalid value"}, data);
    add("decode", "any",
        {"decod", "base64", "gzip", "ZipException", "EOFException", "payload", "Route",
         "missing attribute"},
        data);
    return r;
  }();
  return rules;
}

Result<std::vector<ErrorRule>> LoadErrorRules(const fs::path& file) {
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return InvalidArgument(fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line,
                                       e.source().begin.column, e.description()));
  }
  std::vector<ErrorRule> rules;
  const toml::node_view<toml::node> node = t["triage"]["rules"];
  if (!node) return rules;
  const toml::array* a = node.as_array();
  if (!a)
    return InvalidArgument(fmt::format(
        "{}: triage.rules must be an array of tables ([[triage.rules]])", file.string()));
  for (const toml::node& n : *a) {
    const toml::table* r = n.as_table();
    const int line = n.source().begin.line;
    auto bad = [&](const std::string& why) {
      return InvalidArgument(fmt::format("{}:{}: triage rule: {}", file.string(), line, why));
    };
    if (!r) return bad("must be a table with name, field, contains and class");
    auto name = (*r)["name"].value<std::string>();
    auto field = (*r)["field"].value_or(std::string("any"));
    auto contains = (*r)["contains"].value<std::string>();
    auto cls = (*r)["class"].value<std::string>();
    if (!name || name->empty()) return bad("needs a name");
    if (!ValidField(field))
      return bad(fmt::format("field '{}' is not error_type, exception_class, error_message or any",
                             field));
    if (!contains || contains->empty()) return bad("needs a non-empty 'contains'");
    if (!cls) return bad("needs a class (infrastructure, data or unclassified)");
    auto c = ParseErrorClass(*cls);
    if (!c.ok()) return bad(c.status().message());
    rules.push_back({fmt::format("{}:{}", file.filename().string(), *name), field, *contains, *c});
  }
  return rules;
}

const char* ErrorDimensionName(ErrorDimension d) {
  switch (d) {
    case ErrorDimension::kTable:
      return "table";
    case ErrorDimension::kDay:
      return "day";
    case ErrorDimension::kHour:
      return "hour";
    case ErrorDimension::kErrorType:
      return "error_type";
    case ErrorDimension::kExceptionClass:
      return "exception_class";
  }
  return "?";
}

Result<std::vector<ErrorDimension>> ParseErrorDimensions(std::string_view text) {
  std::vector<ErrorDimension> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view part =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    std::optional<ErrorDimension> d;
    for (auto c : {ErrorDimension::kTable, ErrorDimension::kDay, ErrorDimension::kHour,
                   ErrorDimension::kErrorType, ErrorDimension::kExceptionClass}) {
      if (part == ErrorDimensionName(c)) d = c;
    }
    if (!d) {
      return InvalidArgument(fmt::format(
          "unknown grouping '{}' (expected table, day, hour, error_type or exception_class)",
          part));
    }
    if (std::find(out.begin(), out.end(), *d) != out.end()) {
      return InvalidArgument(fmt::format("grouping '{}' given twice", part));
    }
    out.push_back(*d);
  }
  return out;
}

namespace {

// One worker's share of the summary; merged in SummarizeErrors.
struct Partial {
  struct GroupKey {
    std::vector<std::string> key;
    int rule = -1;  // index into the rules; -1: none matched, -2: no error attributes
    bool operator<(const GroupKey& o) const {
      return std::tie(key, rule) < std::tie(o.key, o.rule);
    }
  };
  struct GroupCounts {
    int64_t records = 0, bytes = 0;
  };
  struct MessageKey {
    std::string error_type, exception_class, error_message;
    bool operator<(const MessageKey& o) const {
      return std::tie(error_type, exception_class, error_message) <
             std::tie(o.error_type, o.exception_class, o.error_message);
    }
  };
  struct MessageCounts {
    int rule = -1;
    int64_t records = 0;
    size_t file = 0;
    int64_t line = 0;
  };
  struct Bad {
    size_t file;
    int64_t line;
    std::string reason;
  };

  std::map<GroupKey, GroupCounts> groups;
  std::map<MessageKey, MessageCounts> messages;
  int64_t other_messages = 0;
  std::vector<Bad> undecodable;
  int64_t undecodable_lines = 0;
  int64_t records = 0, bytes = 0, outside_dates = 0, beam = 0, raw = 0;
};

const std::string kEmpty;

const std::string& Attr(const PubsubMessage& m, std::string_view key) {
  const std::string* v = m.FindAttribute(key);
  return v ? *v : kEmpty;
}

class Summarizer {
 public:
  Summarizer(const ErrorSummaryOptions& o, const std::vector<fs::path>& files,
             std::vector<ErrorRule> rules)
      : options_(o), files_(files), rules_(std::move(rules)) {}

  // The rule deciding `m`: its index, -1 when none matched, -2 when `m` has no error attributes.
  int Classify(const PubsubMessage& m) const {
    bool any = false;
    for (const char* f : kErrorFields) any = any || m.FindAttribute(f);
    if (!any) return -2;
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].Matches(m)) return static_cast<int>(i);
    }
    return -1;
  }
  ErrorClass ClassOf(int rule) const {
    return rule < 0 ? ErrorClass::kUnclassified : rules_[rule].error_class;
  }
  std::string RuleText(int rule) const {
    if (rule == -2)
      return "no error attributes (ingestion-sink's raw error output keeps no reason)";
    if (rule == -1) return "no rule matched";
    return rules_[rule].Describe();
  }

  void ProcessFile(size_t index, Partial& p, PubsubLineParser& parser, PubsubMessage& m,
                   ErrorFileReport* report, Status* failure) {
    InputFile in(files_[index], options_.retry);
    Status s = in.Open();
    if (!s.ok()) {
      *failure = s;
      return;
    }
    int64_t line_number = 0;
    std::string_view line;
    std::vector<std::string> key(options_.by.size());
    while (true) {
      Result<bool> more = in.Next(&line);
      if (!more.ok()) {
        *failure = more.status();
        return;
      }
      if (!*more) break;
      ++line_number;
      if (line.empty()) continue;
      Status parsed = parser.Parse(line, &m, LineFormat::kWrapped);
      if (!parsed.ok()) {
        ++p.undecodable_lines;
        if (p.undecodable.size() < ErrorSummary::kMaxUndecodable) {
          p.undecodable.push_back({index, line_number, parsed.message()});
        }
        continue;
      }
      Add(index, line_number, line.size() + 1, m, parser.shape(), key, p);
    }
    report->lines = line_number;
    report->problem = in.problem();
    report->bytes = in.bytes_read();
  }

 private:
  void Add(size_t file, int64_t line_number, size_t bytes, const PubsubMessage& m, LineShape shape,
           std::vector<std::string>& key, Partial& p) const {
    int64_t us = 0;
    const std::string* ts = m.FindAttribute("submission_timestamp");
    const bool has_ts = ts && ParseTimestampMicros(*ts, &us);
    std::optional<Date> day;
    int hour = 0;
    if (has_ts) {
      Timestamp t = FromMicros(us);
      day = DateOf(t);
      hour = static_cast<int>(std::chrono::floor<std::chrono::hours>(t - StartOf(*day)).count());
    }
    if (options_.dates && !(day && options_.dates->Contains(*day))) {
      ++p.outside_dates;
      return;
    }
    shape == LineShape::kRaw ? ++p.raw : ++p.beam;
    const int rule = Classify(m);
    for (size_t i = 0; i < options_.by.size(); ++i) {
      std::string& k = key[i];
      k.clear();
      switch (options_.by[i]) {
        case ErrorDimension::kTable: {
          const std::string& ns = Attr(m, "document_namespace");
          const std::string& type = Attr(m, "document_type");
          const std::string& version = Attr(m, "document_version");
          if (!ns.empty() && !type.empty() && !version.empty()) {
            auto name = RouteMessage("", ns, type, version);
            if (name.ok()) k = name->dataset + "." + name->table;
          }
          break;
        }
        case ErrorDimension::kDay:
          if (day) k = FormatDate(*day);
          break;
        case ErrorDimension::kHour:
          if (day) k = fmt::format("{:02d}", hour);
          break;
        case ErrorDimension::kErrorType:
          k = Attr(m, "error_type");
          break;
        case ErrorDimension::kExceptionClass:
          k = Attr(m, "exception_class");
          break;
      }
    }
    Partial::GroupCounts& g = p.groups[{key, rule}];
    ++g.records;
    g.bytes += static_cast<int64_t>(bytes);
    ++p.records;
    p.bytes += static_cast<int64_t>(bytes);
    if (rule == -2) return;  // nothing to list
    Partial::MessageKey mk{Attr(m, "error_type"), Attr(m, "exception_class"),
                           Attr(m, "error_message")};
    auto it = p.messages.find(mk);
    if (it == p.messages.end()) {
      if (p.messages.size() >= ErrorSummary::kMaxDistinctMessages) {
        ++p.other_messages;
        return;
      }
      it = p.messages.emplace(std::move(mk), Partial::MessageCounts{rule, 0, file, line_number})
               .first;
    }
    ++it->second.records;
  }

  const ErrorSummaryOptions& options_;
  const std::vector<fs::path>& files_;
  std::vector<ErrorRule> rules_;
};

}  // namespace

Result<ErrorSummary> SummarizeErrors(const ErrorSummaryOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.by.empty()) return InvalidArgument("nothing to group by");
  if (options.threads < 0) return InvalidArgument("threads must be at least 1");
  BF_ASSIGN_OR_RETURN(std::vector<fs::path> files, ExpandInputs(options.inputs));
  std::vector<ErrorRule> rules = options.rules;
  for (const auto& r : options.rules) {
    if (!ValidField(r.field) || r.contains.empty()) {
      return InvalidArgument(
          fmt::format("rule {}: field must be error_type, exception_class, error_message or "
                      "any, and contains non-empty",
                      r.name));
    }
  }
  rules.insert(rules.end(), DefaultErrorRules().begin(), DefaultErrorRules().end());
  Summarizer summarizer(options, files, std::move(rules));

  ErrorSummary out;
  out.by = options.by;
  out.files.resize(files.size());
  for (size_t i = 0; i < files.size(); ++i) out.files[i].path = files[i].string();
  size_t threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, std::max<size_t>(files.size(), 1));
  std::vector<Partial> partials(threads);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex failure_mu;
  Status failure;
  auto work = [&](Partial& p) {
    PubsubLineParser parser;
    PubsubMessage m;
    for (size_t i; !failed && (i = next.fetch_add(1)) < files.size();) {
      Status s;
      summarizer.ProcessFile(i, p, parser, m, &out.files[i], &s);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(failure_mu);
        if (!failed) failure = s.WithContext(files[i].string());
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, std::ref(partials[t]));
  work(partials[0]);
  for (auto& th : pool) th.join();
  if (failed) return failure;

  // Merge. Examples and undecodable lines keep the first in file order, whichever thread saw them.
  std::map<Partial::GroupKey, Partial::GroupCounts> groups;
  std::map<Partial::MessageKey, Partial::MessageCounts> messages;
  std::vector<Partial::Bad> bad;
  for (Partial& p : partials) {
    for (auto& [k, c] : p.groups) {
      auto& g = groups[k];
      g.records += c.records;
      g.bytes += c.bytes;
    }
    for (auto& [k, c] : p.messages) {
      auto [it, inserted] = messages.try_emplace(k, c);
      if (inserted) continue;
      it->second.records += c.records;
      if (std::tie(c.file, c.line) < std::tie(it->second.file, it->second.line)) {
        it->second.file = c.file;
        it->second.line = c.line;
      }
    }
    out.other_messages += p.other_messages;
    for (auto& b : p.undecodable) bad.push_back(std::move(b));
    out.undecodable_lines += p.undecodable_lines;
    out.records += p.records;
    out.bytes += p.bytes;
    out.outside_dates += p.outside_dates;
    out.beam_lines += p.beam;
    out.raw_lines += p.raw;
  }
  for (auto& [k, c] : groups) {
    ErrorClass cls = summarizer.ClassOf(k.rule);
    out.per_class[static_cast<int>(cls)] += c.records;
    out.groups.push_back({k.key, cls, summarizer.RuleText(k.rule), c.records, c.bytes});
  }
  // Cap the merged list too, so the report stays readable however the threads split the input.
  for (auto& [k, c] : messages) {
    out.messages.push_back({k.error_type,
                            k.exception_class,
                            k.error_message,
                            summarizer.ClassOf(c.rule),
                            summarizer.RuleText(c.rule),
                            c.records,
                            {files[c.file].string(), c.line}});
  }
  std::stable_sort(out.messages.begin(), out.messages.end(),
                   [](const auto& a, const auto& b) { return a.records > b.records; });
  if (out.messages.size() > ErrorSummary::kMaxDistinctMessages) {
    for (size_t i = ErrorSummary::kMaxDistinctMessages; i < out.messages.size(); ++i) {
      out.other_messages += out.messages[i].records;
    }
    out.messages.resize(ErrorSummary::kMaxDistinctMessages);
  }
  std::sort(bad.begin(), bad.end(), [](const auto& a, const auto& b) {
    return std::tie(a.file, a.line) < std::tie(b.file, b.line);
  });
  if (bad.size() > ErrorSummary::kMaxUndecodable) bad.resize(ErrorSummary::kMaxUndecodable);
  for (auto& b : bad)
    out.undecodable.push_back({files[b.file].string(), b.line, std::move(b.reason)});
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace backfill::ingest
