#include "quiver/error.hpp"

#include <cstring>
#include <new>

namespace quiver::core {

namespace {
// Deliberately not derived from std::exception: the boundary must survive anything thrown.
struct OpaqueFailure {
	int value;
};
} // namespace

void
ThrowForSelfTest(const char *kind)
{
	if (std::strcmp(kind, "core") == 0)
		throw Error(ErrorCode::DataException, "self-test: quiver core error");
	if (std::strcmp(kind, "bad_alloc") == 0)
		throw std::bad_alloc();
	if (std::strcmp(kind, "std") == 0)
		throw std::runtime_error("self-test: std::runtime_error from the core");
	if (std::strcmp(kind, "unknown") == 0)
		throw OpaqueFailure{42};
	throw Error(ErrorCode::InvalidInput, std::string("unknown self-test kind \"") + kind +
	                                         "\" (expected core, bad_alloc, std or unknown)");
}

} // namespace quiver::core
