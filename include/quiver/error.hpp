// The core's exception type. Core code throws; the glue in src/pg catches at the boundary
// (src/pg/guard.hpp) and turns the code into an SQLSTATE after every C++ frame is gone.
#pragma once

#include <stdexcept>
#include <string>

namespace quiver::core {

enum class ErrorCode : int {
	InvalidInput,  // malformed external data (22P02)
	DataException, // well-formed but unacceptable data (22000)
	LimitExceeded, // a size or count above what Quiver supports (54000)
	OutOfRange,    // a numeric value outside its type (22003)
	Internal,      // a bug or a broken invariant (XX000)
};

class Error : public std::runtime_error {
  public:
	Error(ErrorCode code, const std::string &message) : std::runtime_error(message), code_(code) {}
	ErrorCode code() const noexcept { return code_; }

  private:
	ErrorCode code_;
};

// Throws an exception of the named kind from inside the core: "core" (quiver::core::Error,
// data exception), "bad_alloc", "std" (std::runtime_error) or "unknown" (not derived from
// std::exception). Exists so that tests on a live server can prove every kind becomes an
// ERROR and the session survives. Any other kind throws Error(InvalidInput).
[[noreturn]] void ThrowForSelfTest(const char *kind);

} // namespace quiver::core

#include "quiver/core_only.hpp"
