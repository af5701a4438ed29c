// The one door between PostgreSQL and C++.
//
// PostgreSQL reports errors by longjmp; C++ by unwinding. Every function PostgreSQL calls
// (SQL functions, and later AM callbacks and hooks) is declared with QUIVER_FUNCTION or runs
// its body through CallGuarded, which:
//   - catches every C++ exception the body lets out (core errors, std::bad_alloc, anything),
//   - copies the message into a fixed buffer inside the catch (no palloc, which could itself
//     longjmp out of the handler and leak the exception object),
//   - and calls ereport(ERROR) only after the catch block has closed, when no C++ frame with
//     a destructor is left between us and PostgreSQL's sigsetjmp.
// The body itself is written in PostgreSQL's idiom: it may ereport, so it must not hold any
// object with a non-trivial destructor while it calls PostgreSQL (DESIGN.md section 3).
//
// Include order: core headers, then this file (it includes postgres.h), then other
// PostgreSQL headers. A core header included after this one fails the build on purpose.
#pragma once

#include <new>
#include <stdexcept>

#include "quiver/error.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

namespace quiver::pg {

struct PendingError {
	int sqlstate;
	bool has_detail;
	char message[768];
	char detail[256];
};

// Fills *pending from the exception being handled. Must be called inside a catch block.
void CaptureCurrentException(PendingError *pending) noexcept;

// ereport(ERROR) with what CaptureCurrentException recorded. Never returns.
pg_attribute_noreturn() void RaisePendingError(const PendingError *pending);

// Runs fn() and turns any C++ exception it lets out into ereport(ERROR). For callbacks that
// are not fmgr functions (index AM callbacks, hooks): wrap the body in a lambda. The lambda
// and its captures must be trivially destructible (capture by reference).
template <typename Fn>
inline auto
Guarded(Fn fn) -> decltype(fn())
{
	PendingError pending;
	try {
		return fn();
	} catch (...) {
		CaptureCurrentException(&pending);
	}
	RaisePendingError(&pending);
}

template <typename Body>
inline Datum
CallGuarded(Body body, FunctionCallInfo fcinfo)
{
	return Guarded([&] { return body(fcinfo); });
}

} // namespace quiver::pg

// Defines an SQL-callable function `name` whose body runs behind the guard.
#define QUIVER_FUNCTION(name)                                                                                     \
	static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo);                                                            \
	extern "C" {                                                                                                  \
	PG_FUNCTION_INFO_V1(name);                                                                                    \
	}                                                                                                             \
	extern "C" Datum name(PG_FUNCTION_ARGS)                                                                       \
	{                                                                                                             \
		return ::quiver::pg::CallGuarded(name##_body, fcinfo);                                                    \
	}                                                                                                             \
	static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo)
