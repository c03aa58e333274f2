// Reviewed writes: a request records the exact statements a command would run against the
// warehouse, with their hash; a second principal approves it; running the command with the
// request executes exactly those statements and refuses when anything differs.
//
// Requests are JSON files under <warehouse>/requests/, written atomically while the writer
// lock is held, so a reviewer can also read them with any tool. I/O: those files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/time.h"

namespace backfill {

struct ReviewRequest {
  std::string id;  // "R1", "R2", ...
  std::string author;
  Timestamp created_at;
  std::string command;                          // the command line it was recorded from
  std::vector<std::string> statements;          // in execution order
  std::string hash;                             // Sha256HexOfParts(statements)
  std::vector<std::string> protected_datasets;  // the protected datasets it writes
  std::vector<std::string> projects;            // every project it writes (their audit logs)
  std::optional<std::string> approved_by;
  std::optional<Timestamp> approved_at;
  std::optional<Timestamp> executed_at;

  std::string Status() const;  // "pending approval", "approved", "executed"
  // As stored in its file, and as `request ... --format json` prints it.
  nlohmann::ordered_json ToJson() const;
  // Refuses a request that is not approved, already executed, or altered since recorded.
  backfill::Status CheckRunnable() const;
};

class RequestStore {
 public:
  explicit RequestStore(std::filesystem::path warehouse_dir)
      : dir_(std::move(warehouse_dir) / "requests") {}
  // Assigns the next id and writes the request.
  Result<ReviewRequest> Create(ReviewRequest request);
  Result<ReviewRequest> Load(const std::string& id) const;
  Status Save(const ReviewRequest& request);
  Result<std::vector<ReviewRequest>> List() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace backfill
