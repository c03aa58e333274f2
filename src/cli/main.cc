#include "cli/cli.h"

int main(int argc, char** argv) { return backfill::cli::Main(argc, argv); }
