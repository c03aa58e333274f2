#include "warehouse/review.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/sha256.h"

namespace backfill {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

std::string ReviewRequest::Status() const {
  if (executed_at) return "executed";
  if (approved_by) return "approved";
  return "pending approval";
}

Status ReviewRequest::CheckRunnable() const {
  if (!approved_by) {
    return Refused(fmt::format(
        "request {} is not approved yet (a principal other than {} must run `backfill request "
        "approve {}`)",
        id, author, id));
  }
  if (executed_at)
    return Refused(
        fmt::format("request {} was already executed at {}", id, FormatTimestamp(*executed_at)));
  if (Sha256HexOfParts(statements) != hash) {
    return Refused(fmt::format("request {} was altered after it was recorded (hash mismatch)", id));
  }
  return backfill::Status::Ok();
}

Json ReviewRequest::ToJson() const {
  auto opt_ts = [](const std::optional<Timestamp>& t) {
    return t ? Json(FormatTimestamp(*t)) : Json();
  };
  return Json{{"id", id},
              {"author", author},
              {"created_at", FormatTimestamp(created_at)},
              {"command", command},
              {"statements", statements},
              {"hash", hash},
              {"protected_datasets", protected_datasets},
              {"projects", projects},
              {"approved_by", approved_by ? Json(*approved_by) : Json()},
              {"approved_at", opt_ts(approved_at)},
              {"executed_at", opt_ts(executed_at)},
              {"status", Status()}};
}

namespace {

Result<ReviewRequest> FromJson(const Json& j, const std::string& origin) {
  try {
    ReviewRequest r;
    r.id = j.at("id").get<std::string>();
    r.author = j.at("author").get<std::string>();
    BF_ASSIGN_OR_RETURN(r.created_at, ParseTimestamp(j.at("created_at").get<std::string>()));
    r.command = j.at("command").get<std::string>();
    r.statements = j.at("statements").get<std::vector<std::string>>();
    r.hash = j.at("hash").get<std::string>();
    r.protected_datasets = j.at("protected_datasets").get<std::vector<std::string>>();
    r.projects = j.at("projects").get<std::vector<std::string>>();
    if (!j.at("approved_by").is_null()) r.approved_by = j.at("approved_by").get<std::string>();
    if (!j.at("approved_at").is_null()) {
      BF_ASSIGN_OR_RETURN(Timestamp t, ParseTimestamp(j.at("approved_at").get<std::string>()));
      r.approved_at = t;
    }
    if (!j.at("executed_at").is_null()) {
      BF_ASSIGN_OR_RETURN(Timestamp t, ParseTimestamp(j.at("executed_at").get<std::string>()));
      r.executed_at = t;
    }
    return r;
  } catch (const Json::exception& e) {
    return DataLoss(fmt::format("{}: not a valid request file: {}", origin, e.what()));
  }
}

}  // namespace

Result<ReviewRequest> RequestStore::Create(ReviewRequest request) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return IoError(fmt::format("cannot create {}: {}", dir_.string(), ec.message()));
  int next = 1;
  for (const auto& e : fs::directory_iterator(dir_)) {
    std::string stem = e.path().stem().string();
    if (e.path().extension() == ".json" && stem.size() > 1 && stem[0] == 'R') {
      next = std::max(next, std::atoi(stem.c_str() + 1) + 1);
    }
  }
  request.id = "R" + std::to_string(next);
  request.hash = Sha256HexOfParts(request.statements);
  BF_RETURN_IF_ERROR(Save(request));
  return request;
}

Result<ReviewRequest> RequestStore::Load(const std::string& id) const {
  fs::path file = dir_ / (id + ".json");
  std::ifstream in(file);
  if (!in) return NotFound(fmt::format("request {} does not exist (no {})", id, file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  Json j = Json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return DataLoss(fmt::format("{}: not valid JSON", file.string()));
  return FromJson(j, file.string());
}

Status RequestStore::Save(const ReviewRequest& request) {
  return WriteFileAtomically(dir_ / (request.id + ".json"), request.ToJson().dump(2) + "\n");
}

Result<std::vector<ReviewRequest>> RequestStore::List() const {
  std::vector<ReviewRequest> out;
  if (!fs::exists(dir_)) return out;
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() != ".json") continue;
    BF_ASSIGN_OR_RETURN(ReviewRequest r, Load(e.path().stem().string()));
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const ReviewRequest& a, const ReviewRequest& b) {
    return std::atoi(a.id.c_str() + 1) < std::atoi(b.id.c_str() + 1);
  });
  return out;
}

}  // namespace backfill
