#include "cli/cli.h"

namespace backfill::cli {

void AddRescueCommands(CLI::App& app, Context& ctx) {}

}  // namespace backfill::cli
