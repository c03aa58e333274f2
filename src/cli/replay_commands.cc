#include "cli/cli.h"

namespace backfill::cli {

void AddReplayCommands(CLI::App& app, Context& ctx) {}

}  // namespace backfill::cli
