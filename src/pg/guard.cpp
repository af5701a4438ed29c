#include <exception>

#include "guard.hpp"

extern "C" {
#include "utils/elog.h"
}

namespace quiver::pg {

namespace {

int
SqlStateFor(core::ErrorCode code) noexcept
{
	switch (code) {
	case core::ErrorCode::InvalidInput:
		return ERRCODE_INVALID_TEXT_REPRESENTATION;
	case core::ErrorCode::DataException:
		return ERRCODE_DATA_EXCEPTION;
	case core::ErrorCode::LimitExceeded:
		return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	case core::ErrorCode::OutOfRange:
		return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
	case core::ErrorCode::Internal:
		break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

void
CopyText(char *dst, std::size_t size, const char *src) noexcept
{
	strlcpy(dst, src, size);
}

} // namespace

void
CaptureCurrentException(PendingError *pending) noexcept
{
	pending->has_detail = false;
	pending->detail[0] = '\0';
	try {
		throw;
	} catch (const core::Error &e) {
		pending->sqlstate = SqlStateFor(e.code());
		CopyText(pending->message, sizeof pending->message, e.what());
	} catch (const std::bad_alloc &) {
		pending->sqlstate = ERRCODE_OUT_OF_MEMORY;
		CopyText(pending->message, sizeof pending->message, "out of memory");
		pending->has_detail = true;
		CopyText(pending->detail, sizeof pending->detail, "A memory allocation inside Quiver's C++ core failed.");
	} catch (const std::exception &e) {
		pending->sqlstate = ERRCODE_INTERNAL_ERROR;
		snprintf(pending->message, sizeof pending->message, "unexpected C++ exception in Quiver: %s", e.what());
	} catch (...) {
		pending->sqlstate = ERRCODE_INTERNAL_ERROR;
		CopyText(pending->message, sizeof pending->message, "unexpected C++ exception of unknown type in Quiver");
	}
}

void
RaisePendingError(const PendingError *pending)
{
	if (pending->has_detail)
		ereport(ERROR, (errcode(pending->sqlstate), errmsg("%s", pending->message), errdetail("%s", pending->detail)));
	ereport(ERROR, (errcode(pending->sqlstate), errmsg("%s", pending->message)));
	pg_unreachable();
}

} // namespace quiver::pg
