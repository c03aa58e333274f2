// Crash points for kill tests: long operations call CrashPoint() right after each durable step
// (a committed transaction, a journal write), and a test sets BACKFILL_CRASH_AT=N to make the
// process die at the N-th one exactly as if it had been SIGKILLed there (no destructors, no
// flushing). BACKFILL_CRASH_TRACE=FILE appends one line per point passed ("N label"), so a test
// learns the points of an uninterrupted run and then kills at each of them.
// Off unless the environment asks for it; thread-safe.
#pragma once

#include <string_view>

namespace backfill {

void CrashPoint(std::string_view label);

}  // namespace backfill
