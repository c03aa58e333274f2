// One algorithm in one file: the reference sink's payload -> row coercion (transform.h), field
// by field and type by type, kept together so it can be read beside gcp-ingestion's
// PubsubMessageToObjectNode.
#include "ingest/transform.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "ingest/json_text.h"

namespace backfill::ingest {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// ---------------------------------------------------------------------------------------------
// Names

namespace {

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string SnakeCase(std::string_view input) {
  // The reference reverses the name, turns every character outside [A-Za-z0-9] (including
  // '_' and anything non-ASCII) into a space, splits at word boundaries and at case changes
  // seen from the right, then lower-cases, joins with '_' and reverses back. Non-ASCII bytes
  // all become spaces, so working on bytes gives the same result as on UTF-16 characters.
  std::string s(input.rbegin(), input.rend());
  for (char& c : s) {
    if (!IsWordChar(c)) c = ' ';
  }
  const size_t n = s.size();
  std::string reversed_result;
  size_t token_start = 0;
  auto flush = [&](size_t end) {
    size_t a = token_start, b = end;
    while (a < b && s[a] == ' ') ++a;
    while (b > a && s[b - 1] == ' ') --b;
    if (a < b) {
      if (!reversed_result.empty()) reversed_result.push_back('_');
      for (size_t i = a; i < b; ++i) {
        char c = s[i];
        reversed_result.push_back(IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c);
      }
    }
    token_start = end;
  };
  for (size_t p = 1; p < n; ++p) {
    bool boundary = IsWordChar(s[p - 1]) != IsWordChar(s[p]);  // \b
    if (!boundary) {
      // The first character after any digits that follow p (the lookaheads "\d*[A-Z]" and
      // "\d*[a-z]").
      size_t q = p;
      while (q < n && IsDigit(s[q])) ++q;
      char next = q < n ? s[q] : '\0';
      if (p >= 2 && IsLower(s[p - 2]) && IsUpper(s[p - 1]) && (IsUpper(next) || IsLower(next))) {
        boundary = true;
      } else if (IsUpper(s[p - 1]) && IsLower(next)) {
        boundary = true;
      }
    }
    if (boundary) flush(p);
  }
  flush(n);
  return std::string(reversed_result.rbegin(), reversed_result.rend());
}

std::string ConvertNameForBq(std::string_view name) {
  std::string out;
  if (!name.empty() && IsDigit(name[0])) out.push_back('_');
  out += SnakeCase(name);
  return out;
}

// ---------------------------------------------------------------------------------------------
// CompiledSchema

namespace {
constexpr std::string_view kBug1737656Names[4] = {"url", "text", "jwe", "labeled_rate"};
}  // namespace

std::shared_ptr<const CompiledSchema> CompiledSchema::Compile(
    std::vector<Field> fields, const std::vector<std::string>& encoded) {
  std::shared_ptr<CompiledSchema> schema(new CompiledSchema());
  schema->fields_ = std::move(fields);
  schema->Build(schema->fields_, &encoded, false);
  return schema;
}

const CompiledSchema::Record* CompiledSchema::Build(const std::vector<Field>& fields,
                                                    const std::vector<std::string>* encoded,
                                                    bool in_encoded) {
  static std::atomic<uint64_t> next_uid{1};
  records_.push_back(std::make_unique<Record>());
  Record* rec = records_.back().get();
  rec->uid = next_uid.fetch_add(1, std::memory_order_relaxed);
  rec->fields.resize(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    const Field& field = fields[i];
    FieldInfo& fi = rec->fields[i];
    fi.field = &field;
    rec->by_name.emplace(field.name, static_cast<uint32_t>(i));
    fi.repeated = field.mode == FieldMode::kRepeated;
    fi.use_counter2 = field.name.starts_with("use_counter2");
    fi.in_encoded = in_encoded || (encoded && std::find(encoded->begin(), encoded->end(),
                                                        field.name) != encoded->end());
    if (field.type == FieldType::kRecord) {
      fi.is_record = true;
      fi.record = Build(field.fields, nullptr, fi.in_encoded);
      const auto& sub = field.fields;
      fi.is_map =
          fi.repeated && ((sub.size() == 2 && sub[0].name == "key" && sub[1].name == "value") ||
                          (sub.size() == 1 && sub[0].name == "key"));
      fi.map_has_value = fi.is_map && sub.size() == 2;
      fi.nested_list = fi.repeated && sub.size() == 1 && sub[0].name == "list" &&
                       sub[0].mode == FieldMode::kRepeated;
    } else {
      switch (field.type) {
        case FieldType::kString:
          fi.scalar = ScalarType::kString;
          break;
        case FieldType::kInt64:
          fi.scalar = ScalarType::kInt64;
          break;
        case FieldType::kFloat64:
          fi.scalar = ScalarType::kFloat64;
          break;
        case FieldType::kBool:
          fi.scalar = ScalarType::kBool;
          break;
        case FieldType::kJson:
          fi.scalar = ScalarType::kJson;
          break;
        default:
          fi.scalar = ScalarType::kOther;
          break;
      }
    }
  }
  for (int b = 0; b < 4; ++b) {
    rec->alt_index[b] = rec->Find(std::string(kBug1737656Names[b]) + "2");
  }
  return rec;
}

// ---------------------------------------------------------------------------------------------
// Transformer

namespace {

const char* TypeName(element_type t) {
  switch (t) {
    case element_type::OBJECT:
      return "object";
    case element_type::ARRAY:
      return "array";
    case element_type::STRING:
      return "string";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "number";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

// Java's (long) cast of a double: NaN -> 0, out of range saturates.
int64_t JavaDoubleToLong(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  if (d <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

// Jackson's JsonNode.asLong(default) on `r` (a missing key gives the default).
int64_t JacksonAsLong(simdjson::simdjson_result<element> r, int64_t dflt) {
  element e;
  if (r.get(e)) return dflt;
  switch (e.type()) {
    case element_type::INT64:
      return int64_t(e);
    case element_type::UINT64:
      return static_cast<int64_t>(uint64_t(e));
    case element_type::DOUBLE:
      return JavaDoubleToLong(double(e));
    case element_type::BOOL:
      return bool(e) ? 1 : 0;
    case element_type::STRING: {
      std::string_view s = std::string_view(e);
      while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
      while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
      if (s.empty()) return dflt;
      std::string_view digits = s.front() == '+' ? s.substr(1) : s;
      int64_t v;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec == std::errc() && p == digits.data() + digits.size()) return v;
      double d;
      auto [p2, ec2] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
      if (ec2 == std::errc() && p2 == digits.data() + digits.size()) return JavaDoubleToLong(d);
      return dflt;
    }
    default:
      return dflt;
  }
}

// Jackson's asInt(default): asLong narrowed as Java's (int) casts do.
int64_t JacksonAsInt(simdjson::simdjson_result<element> r, int64_t dflt) {
  element e;
  if (r.get(e)) return dflt;
  if (e.type() == element_type::DOUBLE) {
    double d = double(e);
    if (std::isnan(d)) return 0;
    if (d >= 2147483647.0) return 2147483647;
    if (d <= -2147483648.0) return -2147483648LL;
    return static_cast<int32_t>(d);
  }
  return static_cast<int32_t>(static_cast<uint32_t>(JacksonAsLong(r, dflt)));
}

// Java's Integer.parseInt: optional sign, decimal digits, 32-bit range.
bool ParseJavaInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  std::string_view digits = s;
  if (s[0] == '+' || s[0] == '-') digits.remove_prefix(1);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), IsDigit)) return false;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data() + (s[0] == '+' ? 1 : 0), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  if (v < -2147483648LL || v > 2147483647LL) return false;
  *out = v;
  return true;
}

constexpr std::string_view kTopLevelStringFields[] = {
    "submission_timestamp", "document_id",           "normalized_app_name",    "normalized_channel",
    "normalized_os",        "normalized_os_version", "normalized_country_code"};
constexpr std::string_view kHeaderAttributes[] = {"date",
                                                  "dnt",
                                                  "x_debug_id",
                                                  "x_lb_tags",
                                                  "x_pingsender_version",
                                                  "x_source_tags",
                                                  "x_telemetry_agent"};
constexpr std::string_view kUriAttributes[] = {"uri", "app_name", "app_version",
                                               "app_update_channel", "app_build_id"};
constexpr std::string_view kIdentifyingFields[] = {"document_namespace", "document_type",
                                                   "document_version"};

template <size_t N>
bool OneOf(std::string_view s, const std::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

}  // namespace

void Transformer::Reset() {
  row_.Clear();
  slots_.clear();
  done_.clear();
  items_.clear();
  ap_.clear();
  ap_out_.clear();
  passthrough_metadata_.clear();
  has_additional_properties_ = false;
  has_passthrough_metadata_ = false;
  error_ = Status::Ok();
  failed_ = false;
}

void Transformer::Fail(Status status) {
  if (!failed_) {
    failed_ = true;
    error_ = std::move(status);
  }
}

const std::string& Transformer::BqName(std::string_view key) {
  auto it = name_cache_.find(key);
  if (it != name_cache_.end()) return it->second;
  // Bounded like the reference's cache; names are few in practice, so this rarely triggers.
  if (name_cache_.size() >= 50000) name_cache_.clear();
  return name_cache_.emplace(std::string(key), ConvertNameForBq(key)).first->second;
}

std::pair<int32_t, bool> Transformer::Resolve(const Record& rec, std::string_view key) {
  auto it = resolved_.find(ResolvedKeyView{rec.uid, key});
  if (it != resolved_.end()) return it->second;
  // Bounded: JSON keys are mostly the same few thousand names, but maps bring arbitrary keys.
  if (resolved_.size() >= 200000) resolved_.clear();
  auto result = ResolveUncached(rec, key);
  resolved_.emplace(ResolvedKey{rec.uid, std::string(key)}, result);
  return result;
}

std::pair<int32_t, bool> Transformer::ResolveUncached(const Record& rec, std::string_view key) {
  // Bug 1737656: Glean metrics url/text/jwe/labeled_rate go to <name>2 when the record has it.
  if (key.size() <= 12) {
    for (int b = 0; b < 4; ++b) {
      if (rec.alt_index[b] >= 0 && key == kBug1737656Names[b]) return {rec.alt_index[b], false};
    }
  }
  int32_t idx = rec.Find(key);
  if (idx >= 0) return {idx, true};
  // Per-record cost for names that differ from their column: one more hash look-up.
  return {rec.Find(BqName(key)), false};
}

size_t Transformer::BeginApKey(std::string_view key, int* entries) {
  if (*entries > 0) ap_.push_back(',');
  ++*entries;
  const size_t at = ap_.size();
  ap_.push_back('"');
  ap_.append(key);
  ap_.append("\":", 2);
  return at;
}

void Transformer::KeepApKey(size_t at, std::string_view key) {
  if (!JsonStringNeedsEscaping(key)) return;
  std::string escaped;  // rare: keys are names
  AppendJsonString(&escaped, key);
  ap_.replace(at, key.size() + 2, escaped);
}

// One key of an object (or one element of a tuple, keyed "f{i}_") against `rec`, whose slots
// start at `base`. Writes the key's leftover value, if any, at the end of ap_ and says so.
//
// The reference transforms a Jackson object in place, iterating a snapshot of its keys while
// reading values live. Renamed keys ("test.int" -> test_int) overwrite the column's value;
// a key that already has its column's name and is visited after such an overwrite reads the
// overwritten, already transformed value, and transforming it again leaves it as it is. So:
// a renamed key's result always wins when present, and a later exact-name key then keeps it
// (`done_`). Null or uncoercible results of renamed keys do not clear the column; those of
// exact-name keys do.
bool Transformer::VisitKey(const Record& rec, size_t base, std::string_view key, element value,
                           bool ap, std::pair<int32_t, bool> resolved) {
  auto [idx, direct] = resolved;
  if (idx < 0) {
    if (ap) AppendJacksonJson(&ap_, value);
    return ap;
  }
  size_t slot = base + static_cast<size_t>(idx);
  if (direct && done_[slot]) return false;
  bool wrote = false;
  uint32_t r = ProcessField(rec.fields[idx], value, ap, &wrote);
  if (failed_) return false;
  if (r == kAbsent) {
    if (direct) slots_[slot] = Row::kNullIndex;
  } else {
    slots_[slot] = r;
    if (!direct) done_[slot] = 1;
  }
  return wrote;
}

size_t Transformer::PushSlots(size_t n) {
  size_t base = slots_.size();
  slots_.resize(base + n, Row::kNullIndex);
  done_.resize(base + n, 0);
  return base;
}

void Transformer::PopSlots(size_t base) {
  slots_.resize(base);
  done_.resize(base);
}

bool Transformer::AllNull(size_t base, size_t n) const {
  for (size_t i = 0; i < n; ++i) {
    if (slots_[base + i] != Row::kNullIndex) return false;
  }
  return true;
}

void Transformer::VisitObject(const Record& rec, size_t base, object obj, bool ap, int* entries,
                              element* metadata, bool* has_metadata) {
  constexpr size_t kMemoKeys = 2048;  // keys remembered per record (free-form objects: more)
  std::vector<std::pair<std::string, std::pair<int32_t, bool>>>& memo = key_memos_[rec.uid].keys;
  size_t position = 0;
  for (auto field : obj) {
    if (metadata != nullptr && field.key == "metadata") {
      // Payload format: the top-level metadata is set aside and put back untransformed.
      *metadata = field.value;
      *has_metadata = true;
      continue;
    }
    size_t mark = ap_.size();
    int before = *entries;
    size_t key_at = ap ? BeginApKey(field.key, entries) : 0;
    std::pair<int32_t, bool> resolved;
    if (position < memo.size() && memo[position].first == field.key) {
      resolved = memo[position].second;
    } else {
      resolved = Resolve(rec, field.key);
      if (position < memo.size()) {
        memo[position].first.assign(field.key);
        memo[position].second = resolved;
      } else if (position < kMemoKeys) {
        memo.emplace_back(std::string(field.key), resolved);
      }
    }
    ++position;
    bool wrote = VisitKey(rec, base, field.key, field.value, ap, resolved);
    if (failed_) return;
    if (ap && !wrote) {
      ap_.resize(mark);
      *entries = before;
    } else if (ap) {
      KeepApKey(key_at, field.key);
    }
  }
}

uint32_t Transformer::TransformRecord(const Record& rec, object obj, bool ap, bool* wrote) {
  const size_t n = rec.fields.size();
  size_t base = PushSlots(n);
  size_t mark = ap_.size();
  int entries = 0;
  if (ap) ap_.push_back('{');
  VisitObject(rec, base, obj, ap, &entries, nullptr, nullptr);
  if (ap) {
    if (entries == 0) {
      ap_.resize(mark);
    } else {
      ap_.push_back('}');
      *wrote = true;
    }
  }
  uint32_t result = kAbsent;
  // An object left with no columns is removed, like any empty value.
  if (!failed_ && !AllNull(base, n)) result = row_.AddRecord({slots_.data() + base, n});
  PopSlots(base);
  return result;
}

uint32_t Transformer::ProcessTuple(const Record& rec, array tuple, bool ap, bool* wrote,
                                   bool keep_empty) {
  const size_t n = rec.fields.size();
  size_t base = PushSlots(n);
  size_t mark = ap_.size();
  bool any = false;
  if (ap) ap_.push_back('[');
  size_t i = 0;
  char key[24];
  for (element item : tuple) {
    if (ap && i > 0) ap_.push_back(',');
    auto r = fmt::format_to_n(key, sizeof(key), "f{}_", i);
    std::string_view k(key, r.size);
    bool w = VisitKey(rec, base, k, item, ap, Resolve(rec, k));
    if (failed_) break;
    if (ap && !w) ap_.append("null");
    any = any || w;
    ++i;
  }
  if (ap) {
    if (any && !failed_) {
      ap_.push_back(']');
      *wrote = true;
    } else {
      ap_.resize(mark);
    }
  }
  uint32_t result = kAbsent;
  if (!failed_ && (keep_empty || !AllNull(base, n))) {
    result = row_.AddRecord({slots_.data() + base, n});
  }
  PopSlots(base);
  return result;
}

uint32_t Transformer::EmptyRecord(const Record& rec) {
  size_t base = PushSlots(rec.fields.size());
  uint32_t result = row_.AddRecord({slots_.data() + base, rec.fields.size()});
  PopSlots(base);
  return result;
}

uint32_t Transformer::EndList(size_t items_base, bool keep_empty, bool ap, size_t mark,
                              bool wrote_any, char close, bool* wrote) {
  uint32_t result = kAbsent;
  if (!failed_ && (keep_empty || items_.size() > items_base)) {
    result = row_.AddList({items_.data() + items_base, items_.size() - items_base});
  }
  items_.resize(items_base);
  if (ap) {
    if (wrote_any && !failed_) {
      ap_.push_back(close);
      *wrote = true;
    } else {
      ap_.resize(mark);
    }
  }
  return result;
}

uint32_t Transformer::ExpandMap(const FieldInfo& f, object obj, bool ap, bool* wrote) {
  const Record& kv = *f.record;
  size_t mark = ap_.size();
  int entries = 0;
  if (ap) {
    ap_.push_back('{');
    if (!f.map_has_value) {
      // Only the keys fit the column; the whole object is kept as left over.
      for (auto field : obj) {
        KeepApKey(BeginApKey(field.key, &entries), field.key);
        AppendJacksonJson(&ap_, field.value);
      }
    }
  }
  size_t items_base = items_.size();
  for (auto field : obj) {
    uint32_t children[2] = {Row::kNullIndex, Row::kNullIndex};
    if (f.map_has_value) {
      size_t m2 = ap_.size();
      int before = entries;
      size_t key_at = ap ? BeginApKey(field.key, &entries) : 0;
      bool w = false;
      uint32_t r = ProcessField(kv.fields[1], field.value, ap, &w);
      if (failed_) break;
      if (ap && !w) {
        ap_.resize(m2);
        entries = before;
      } else if (ap) {
        KeepApKey(key_at, field.key);
      }
      if (r != kAbsent) children[1] = r;
    }
    // The key is kept even when the value is null or went to additional_properties.
    children[0] = row_.AddString(field.key);
    items_.push_back(row_.AddRecord({children, f.map_has_value ? 2u : 1u}));
  }
  // Set even when empty: the reference writes the (possibly empty) list directly.
  return EndList(items_base, /*keep_empty=*/true, ap, mark, entries > 0, '}', wrote);
}

uint32_t Transformer::ExpandNestedList(const FieldInfo& f, array arr, bool ap, bool* wrote) {
  const FieldInfo& sub = f.record->fields[0];
  size_t mark = ap_.size();
  bool any = false;
  if (ap) ap_.push_back('[');
  size_t items_base = items_.size();
  size_t i = 0;
  for (element item : arr) {
    if (ap && i > 0) ap_.push_back(',');
    bool w = false;
    uint32_t r = ProcessField(sub, item, ap, &w);
    if (failed_) break;
    if (ap && !w) ap_.append("null");
    any = any || w;
    uint32_t child = r == kAbsent ? Row::kNullIndex : r;
    items_.push_back(row_.AddRecord({&child, 1}));
    ++i;
  }
  return EndList(items_base, /*keep_empty=*/true, ap, mark, any, ']', wrote);
}

template <typename Range>
uint32_t Transformer::RepeatedElements(const FieldInfo& f, const Range& elements, bool ap,
                                       bool* wrote) {
  const Record& rec = *f.record;
  bool all_arrays = true;
  for (element e : elements) {
    if (e.type() != element_type::ARRAY) {
      all_arrays = false;
      break;
    }
  }
  size_t mark = ap_.size();
  bool any = false;
  if (ap) ap_.push_back('[');
  size_t items_base = items_.size();
  size_t i = 0;
  for (element item : elements) {
    if (ap && i > 0) ap_.push_back(',');
    ++i;
    uint32_t node;
    if (all_arrays) {
      // Every element is a tuple: each becomes a record, even an empty one.
      bool w = false;
      node = ProcessTuple(rec, array(item), ap, &w, /*keep_empty=*/true);
      if (ap && !w) ap_.append("{}");
      any = any || w;
    } else if (item.type() == element_type::OBJECT) {
      bool w = false;
      node = TransformRecord(rec, object(item), ap, &w);
      if (node == kAbsent && !failed_) node = EmptyRecord(rec);
      if (ap && !w) ap_.append("{}");
      any = any || w;
    } else {
      // BigQuery only takes records here: an empty one stands in, the element is left over.
      node = EmptyRecord(rec);
      if (ap) AppendJacksonJson(&ap_, item);
      any = any || ap;
    }
    if (failed_) break;
    items_.push_back(node);
  }
  return EndList(items_base, /*keep_empty=*/false, ap, mark, any, ']', wrote);
}

uint32_t Transformer::RepeatedRecord(const FieldInfo& f, element value, bool ap, bool* wrote) {
  if (value.type() == element_type::ARRAY) return RepeatedElements(f, array(value), ap, wrote);
  if (value.type() == element_type::OBJECT) {
    // The reference iterates an object's values here, as if they were the list (rare; the
    // copy allocates).
    std::vector<element> values;
    bool all_arrays = true;
    for (auto field : object(value)) {
      values.push_back(field.value);
      all_arrays = all_arrays && field.value.type() == element_type::ARRAY;
    }
    if (!all_arrays) return RepeatedElements(f, values, ap, wrote);
    Fail(InvalidArgument(
        fmt::format("column '{}' is a repeated record but the value is an object", f.field->name)));
    return kAbsent;
  }
  Fail(InvalidArgument(fmt::format("column '{}' is a repeated record but the value is a {}",
                                   f.field->name, TypeName(value.type()))));
  return kAbsent;
}

uint32_t Transformer::HistogramToString(const FieldInfo& f, object histogram) {
  // Use counters (type 2, "1" bucket equal to the sum) are written as the sum; every other
  // histogram, and any that looks wrong, as compact JSON text.
  int64_t type = JacksonAsInt(histogram["histogram_type"], -1);
  int64_t sum = JacksonAsLong(histogram["sum"], -1);
  if (type >= 0 && type <= 5 && sum >= 0 && type == 2 && f.use_counter2) {
    simdjson::simdjson_result<element> ones = simdjson::error_code::NO_SUCH_FIELD;
    element values;
    if (!histogram["values"].get(values) && values.type() == element_type::OBJECT) {
      ones = object(values)["1"];
    }
    if (sum == JacksonAsLong(ones, 0)) {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof(buf), sum);
      return row_.AddString(std::string_view(buf, r.ptr - buf));
    }
  }
  return AddJsonText(f, histogram);
}

template <typename Value>
uint32_t Transformer::AddJsonText(const FieldInfo& f, Value value) {
  if (f.in_encoded) {
    return row_.AddStringWith([&](std::string* out) { AppendJacksonJsonLiteral(out, value); },
                              /*json_literal=*/true);
  }
  return row_.AddStringWith([&](std::string* out) { AppendJacksonJson(out, value); }, false);
}

uint32_t Transformer::CoerceSingle(const FieldInfo& f, element v, bool* no_coercion) {
  const element_type t = v.type();
  switch (f.scalar) {
    case CompiledSchema::ScalarType::kString:
      if (t == element_type::STRING) return row_.AddString(std::string_view(v));
      if (t == element_type::OBJECT) {
        object o(v);
        element ignored;
        if (!o["histogram_type"].get(ignored)) return HistogramToString(f, o);
      }
      // Per-record cost for such values: serializing them to JSON text.
      return AddJsonText(f, v);
    case CompiledSchema::ScalarType::kInt64:
      if (t == element_type::INT64) return row_.AddInt(int64_t(v));
      if (t == element_type::BOOL) return row_.AddInt(bool(v) ? 1 : 0);
      break;
    case CompiledSchema::ScalarType::kFloat64:
      if (t == element_type::DOUBLE) return row_.AddDouble(double(v));
      if (t == element_type::INT64) return row_.AddDouble(static_cast<double>(int64_t(v)));
      if (t == element_type::UINT64) return row_.AddDouble(static_cast<double>(uint64_t(v)));
      if (t == element_type::BOOL) return row_.AddDouble(bool(v) ? 1 : 0);
      break;
    case CompiledSchema::ScalarType::kBool:
      if (t == element_type::BOOL) return row_.AddBool(bool(v));
      break;
    case CompiledSchema::ScalarType::kJson:
      return row_.AddStringWith([&](std::string* out) { AppendJacksonJson(out, v); }, false);
    case CompiledSchema::ScalarType::kOther:
      // TIMESTAMP, DATE, NUMERIC, ...: the reference passes the value on and BigQuery parses
      // it; we keep the text for the warehouse to cast. Anything but a string or a number
      // would be rejected by BigQuery, so the record fails here instead.
      if (t == element_type::STRING) return row_.AddString(std::string_view(v));
      if (t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE) {
        return row_.AddStringWith([&](std::string* out) { AppendJacksonJson(out, v); }, false);
      }
      Fail(InvalidArgument(fmt::format("column '{}' ({}) cannot hold a JSON {}", f.field->name,
                                       FieldTypeName(f.field->type), TypeName(t))));
      return kAbsent;
  }
  *no_coercion = true;
  return kAbsent;
}

uint32_t Transformer::Coerce(const FieldInfo& f, element value, bool ap, bool* wrote) {
  if (f.repeated) {
    if (value.type() != element_type::ARRAY) {
      if (ap) {
        AppendJacksonJson(&ap_, value);
        *wrote = true;
      }
      return kAbsent;
    }
    size_t items_base = items_.size();
    size_t i = 0;
    for (element item : array(value)) {
      bool no_coercion = false;
      uint32_t r = CoerceSingle(f, item, &no_coercion);
      if (failed_) break;
      if (no_coercion) {
        // The reference throws here (Optional.get on an empty coercion): the record fails.
        Fail(InvalidArgument(fmt::format("column '{}' ({} REPEATED): element {} is a {}",
                                         f.field->name, FieldTypeName(f.field->type), i,
                                         TypeName(item.type()))));
        break;
      }
      items_.push_back(r);
      ++i;
    }
    return EndList(items_base, /*keep_empty=*/false, /*ap=*/false, 0, false, ']', wrote);
  }
  bool no_coercion = false;
  uint32_t r = CoerceSingle(f, value, &no_coercion);
  if (no_coercion && ap) {
    AppendJacksonJson(&ap_, value);
    *wrote = true;
  }
  return r;
}

uint32_t Transformer::ProcessField(const FieldInfo& f, element value, bool ap, bool* wrote) {
  const element_type t = value.type();
  if (t == element_type::NULL_VALUE) return kAbsent;
  if (f.is_map) {
    if (t == element_type::OBJECT) return ExpandMap(f, object(value), ap, wrote);
    // Not an object: handled as the repeated record it is (a list that is already key/value
    // records stays as it is, gcp-ingestion issue 2609).
    return RepeatedRecord(f, value, ap, wrote);
  }
  if (f.nested_list && t == element_type::ARRAY) {
    return ExpandNestedList(f, array(value), ap, wrote);
  }
  if (f.is_record && !f.repeated) {
    if (t == element_type::ARRAY) {
      return ProcessTuple(*f.record, array(value), ap, wrote, /*keep_empty=*/false);
    }
    if (t == element_type::OBJECT) return TransformRecord(*f.record, object(value), ap, wrote);
    // The reference would hand this scalar to BigQuery, which rejects the row.
    Fail(InvalidArgument(
        fmt::format("column '{}' is a record but the value is a {}", f.field->name, TypeName(t))));
    return kAbsent;
  }
  if (f.is_record) return RepeatedRecord(f, value, ap, wrote);
  return Coerce(f, value, ap, wrote);
}

uint32_t Transformer::PassThroughRecord(const Record& rec, object obj) {
  const size_t n = rec.fields.size();
  size_t base = PushSlots(n);
  for (auto field : obj) {
    int32_t idx = rec.Find(field.key);
    if (idx < 0 || field.value.type() == element_type::NULL_VALUE) continue;
    const FieldInfo& f = rec.fields[idx];
    uint32_t r = kAbsent;
    if (f.is_record && !f.repeated && field.value.type() == element_type::OBJECT) {
      r = PassThroughRecord(*f.record, object(field.value));
    } else if (!f.is_record && !f.repeated) {
      bool no_coercion = false;
      r = CoerceSingle(f, field.value, &no_coercion);
    }
    if (failed_) break;
    if (r != kAbsent) slots_[base + idx] = r;
  }
  uint32_t result = failed_ ? kAbsent : row_.AddRecord({slots_.data() + base, n});
  PopSlots(base);
  return result;
}

uint32_t Transformer::MetadataFromAttributes(const Record& rec, Attributes attributes) {
  // The reference decoder's nested metadata: geo_*, isp_*, user_agent_* attributes with the
  // prefix stripped, the header attributes, and for telemetry the uri attributes. Columns the
  // table lacks are skipped; the attributes themselves stay on the message.
  enum Sub { kGeo, kIsp, kUserAgent, kHeader, kUri, kSubCount };
  constexpr std::string_view kSubNames[kSubCount] = {"geo", "isp", "user_agent", "header", "uri"};
  const size_t n = rec.fields.size();
  size_t base = PushSlots(n);
  int32_t sub_index[kSubCount];
  size_t sub_base[kSubCount];
  bool telemetry = false;
  for (const auto& [k, v] : attributes) {
    if (k == "document_namespace") telemetry = v == "telemetry";
  }
  for (int s = 0; s < kSubCount; ++s) {
    sub_index[s] = rec.Find(kSubNames[s]);
    if (sub_index[s] >= 0 && (!rec.fields[sub_index[s]].is_record ||
                              rec.fields[sub_index[s]].repeated || (s == kUri && !telemetry))) {
      sub_index[s] = -1;
    }
    sub_base[s] = sub_index[s] >= 0 ? PushSlots(rec.fields[sub_index[s]].record->fields.size()) : 0;
  }
  auto put = [&](int s, std::string_view name, std::string_view value) {
    if (sub_index[s] < 0) return;
    const Record& sub = *rec.fields[sub_index[s]].record;
    int32_t i = sub.Find(name);
    if (i < 0 || sub.fields[i].is_record || sub.fields[i].repeated) return;
    if (sub.fields[i].scalar == CompiledSchema::ScalarType::kString ||
        sub.fields[i].scalar == CompiledSchema::ScalarType::kOther) {
      slots_[sub_base[s] + i] = row_.AddString(value);
    }
  };
  for (const auto& [k, v] : attributes) {
    std::string_view key = k;
    if (key.starts_with("geo_")) put(kGeo, key.substr(4), v);
    if (key.starts_with("isp_")) put(kIsp, key.substr(4), v);
    if (key.starts_with("user_agent_")) put(kUserAgent, key.substr(11), v);
    if (OneOf(key, kHeaderAttributes)) put(kHeader, key, v);
    if (OneOf(key, kUriAttributes)) put(kUri, key, v);
    if (OneOf(key, kIdentifyingFields)) {
      int32_t i = rec.Find(key);
      if (i >= 0 && !rec.fields[i].is_record && !rec.fields[i].repeated) {
        slots_[base + i] = row_.AddString(v);
      }
    }
  }
  // Sub-records are present even when empty, as the reference writes {} for them.
  for (int s = kSubCount - 1; s >= 0; --s) {
    if (sub_index[s] < 0) continue;
    size_t m = rec.fields[sub_index[s]].record->fields.size();
    slots_[base + sub_index[s]] = row_.AddRecord({slots_.data() + sub_base[s], m});
  }
  uint32_t result = row_.AddRecord({slots_.data() + base, n});
  PopSlots(base);
  return result;
}

Status Transformer::TransformPayload(const CompiledSchema& schema, Attributes attributes,
                                     object payload, const TransformOptions& options) {
  Reset();
  const Record& rec = schema.root();
  const size_t n = rec.fields.size();
  size_t base = PushSlots(n);

  if (options.metadata_from_attributes) {
    // The reference decoder puts these attributes in front of the payload; a payload key of
    // the same name replaces them (Jackson keeps the last duplicate).
    for (const auto& [k, v] : attributes) {
      int32_t i = -1;
      if (OneOf(k, kTopLevelStringFields) || k == "sample_id") i = rec.Find(k);
      if (i < 0 || rec.fields[i].is_record || rec.fields[i].repeated) continue;
      const FieldInfo& f = rec.fields[i];
      if (k == "sample_id") {
        int64_t id;
        if (!ParseJavaInt(v, &id)) continue;
        if (f.scalar == CompiledSchema::ScalarType::kInt64) {
          slots_[base + i] = row_.AddInt(id);
        } else if (f.scalar == CompiledSchema::ScalarType::kFloat64) {
          slots_[base + i] = row_.AddDouble(static_cast<double>(id));
        } else if (f.scalar == CompiledSchema::ScalarType::kString) {
          slots_[base + i] = row_.AddString(std::to_string(id));
        }
      } else if (f.scalar == CompiledSchema::ScalarType::kString ||
                 f.scalar == CompiledSchema::ScalarType::kOther) {
        slots_[base + i] = row_.AddString(v);
      }
    }
  }

  const bool ap = !options.strict_schema;
  int entries = 0;
  if (ap) ap_.push_back('{');
  element metadata;
  bool has_metadata = false;
  VisitObject(rec, base, payload, ap, &entries, &metadata, &has_metadata);
  if (failed_) return error_;
  if (ap) {
    ap_.push_back('}');
    ap_out_ = entries > 0 ? ap_ : "{}";
    has_additional_properties_ = true;
  }

  int32_t mi = rec.Find("metadata");
  bool metadata_column = mi >= 0 && rec.fields[mi].is_record && !rec.fields[mi].repeated;
  if (has_metadata) {
    if (!metadata_column) {
      passthrough_metadata_.clear();
      AppendJacksonJson(&passthrough_metadata_, metadata);
      has_passthrough_metadata_ = true;
    } else if (metadata.type() == element_type::OBJECT) {
      slots_[base + mi] = PassThroughRecord(*rec.fields[mi].record, object(metadata));
    } else if (metadata.type() == element_type::NULL_VALUE) {
      slots_[base + mi] = Row::kNullIndex;
    } else {
      Fail(InvalidArgument(
          fmt::format("payload metadata is a {}, not an object", TypeName(metadata.type()))));
    }
  } else if (metadata_column && options.metadata_from_attributes) {
    slots_[base + mi] = MetadataFromAttributes(*rec.fields[mi].record, attributes);
  }
  if (failed_) return error_;

  if (ap) {
    int32_t ai = rec.Find("additional_properties");
    if (ai >= 0 && !rec.fields[ai].is_record && !rec.fields[ai].repeated &&
        (rec.fields[ai].scalar == CompiledSchema::ScalarType::kString ||
         rec.fields[ai].scalar == CompiledSchema::ScalarType::kJson)) {
      slots_[base + ai] = row_.AddString(ap_out_);
    }
  }
  row_.set_root(row_.AddRecord({slots_.data() + base, n}));
  PopSlots(base);
  return Status::Ok();
}

Status Transformer::TransformObject(const CompiledSchema& schema, object obj, bool strict_schema) {
  Reset();
  const Record& rec = schema.root();
  const size_t n = rec.fields.size();
  size_t base = PushSlots(n);
  const bool ap = !strict_schema;
  int entries = 0;
  if (ap) ap_.push_back('{');
  VisitObject(rec, base, obj, ap, &entries, nullptr, nullptr);
  if (failed_) return error_;
  if (ap) {
    ap_.push_back('}');
    ap_out_ = entries > 0 ? ap_ : "{}";
    has_additional_properties_ = true;
  }
  row_.set_root(row_.AddRecord({slots_.data() + base, n}));
  PopSlots(base);
  return Status::Ok();
}

Status Transformer::TransformMessage(const CompiledSchema& schema, const PubsubMessage& message,
                                     const TransformOptions& options,
                                     const InflatedPayload* inflated) {
  auto payload = decoder_.DecodeObject(message.payload, inflated);
  if (!payload.ok()) return payload.status();
  return TransformPayload(schema, message.attributes, *payload, options);
}

// ---------------------------------------------------------------------------------------------
// Raw and Decoded formats

std::string RawFormatJson(const PubsubMessage& message) {
  std::string out = "{";
  for (const auto& [k, v] : message.attributes) {
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(&out, k);
    out.push_back(':');
    AppendJsonString(&out, v);
  }
  if (!message.payload.empty()) {
    if (out.size() > 1) out.push_back(',');
    out.append("\"payload\":\"");
    Base64EncodeTo(message.payload, &out);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::string DecodedFormatJson(const PubsubMessage& message) {
  const auto& attrs = message.attributes;
  auto write_group = [&](std::string* out, std::string_view name, auto&& select) {
    AppendJsonString(out, name);
    out->append(":{");
    bool first = true;
    for (const auto& [k, v] : attrs) {
      std::string_view sub;
      if (!select(std::string_view(k), &sub)) continue;
      if (!first) out->push_back(',');
      first = false;
      AppendJsonString(out, sub);
      out->push_back(':');
      AppendJsonString(out, v);
    }
    out->push_back('}');
  };
  auto prefixed = [](std::string_view prefix) {
    return [prefix](std::string_view k, std::string_view* sub) {
      if (!k.starts_with(prefix)) return false;
      *sub = k.substr(prefix.size());
      return true;
    };
  };
  auto listed = [](const auto& list) {
    return [&list](std::string_view k, std::string_view* sub) {
      if (!OneOf(k, list)) return false;
      *sub = k;
      return true;
    };
  };
  const std::string* ns = message.FindAttribute("document_namespace");
  std::string out = "{\"metadata\":{";
  write_group(&out, "geo", prefixed("geo_"));
  out.push_back(',');
  write_group(&out, "isp", prefixed("isp_"));
  out.push_back(',');
  write_group(&out, "user_agent", prefixed("user_agent_"));
  out.push_back(',');
  write_group(&out, "header", listed(kHeaderAttributes));
  if (ns != nullptr && *ns == "telemetry") {
    out.push_back(',');
    write_group(&out, "uri", listed(kUriAttributes));
  }
  for (std::string_view name : kIdentifyingFields) {
    if (const std::string* v = message.FindAttribute(name)) {
      out.push_back(',');
      AppendJsonString(&out, name);
      out.push_back(':');
      AppendJsonString(&out, *v);
    }
  }
  out.push_back('}');
  for (std::string_view name : kTopLevelStringFields) {
    if (const std::string* v = message.FindAttribute(name)) {
      out.push_back(',');
      AppendJsonString(&out, name);
      out.push_back(':');
      AppendJsonString(&out, *v);
    }
  }
  int64_t sample_id;
  if (const std::string* v = message.FindAttribute("sample_id");
      v && ParseJavaInt(*v, &sample_id)) {
    out.append(fmt::format(",\"sample_id\":{}", sample_id));
  }
  if (!message.payload.empty()) {
    out.append(",\"payload\":\"");
    Base64EncodeTo(message.payload, &out);
    out.push_back('"');
  }
  if (const std::string* v = message.FindAttribute("client_id")) {
    out.append(",\"client_id\":");
    AppendJsonString(&out, *v);
  }
  out.push_back('}');
  return out;
}

}  // namespace backfill::ingest
