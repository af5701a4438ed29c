// Text codec of the `vector` type: "[1,2.5,3]".
//
// The parser reports what went wrong as a status instead of throwing, because the caller
// (vector_in) must turn each case into pgvector's exact message and SQLSTATE, and because the
// fuzzer drives it millions of times. Checks run in the same order as pgvector's, so the first
// problem found is the one pgvector would report.
#pragma once

#include <cstddef>

namespace quiver::core {

inline constexpr int kVectorMaxDim = 16000;

enum class VectorTextStatus {
	Ok,
	MissingOpenBracket, // text does not start with '[' (after whitespace)
	NoDimensions,       // "[]"
	TooManyDimensions,  // more than the caller's max_dim values
	Syntax,             // anything else malformed
	JunkAfterBracket,   // non-whitespace after the closing ']'
	OutOfRange,         // a number too large for float32 (or at or above `limit`); token_* names it
	NaNValue,
	InfiniteValue,
};

struct VectorTextResult {
	VectorTextStatus status;
	int dim;                 // values stored in out (valid when status is Ok)
	std::size_t token_begin; // offset of the offending number (OutOfRange only)
	std::size_t token_len;
};

// Parses NUL-terminated text into out, which has room for max_dim values. A finite value whose
// magnitude is at least `limit` is out of range too (halfvec passes 65520, where rounding to
// half precision reaches infinity), reported with the text of the number as written.
VectorTextResult ParseVectorText(const char *text, float *out, int max_dim,
                                 float limit = __builtin_inff()) noexcept;

// Bytes needed to format dim values, including brackets, commas and a terminating NUL.
std::size_t VectorTextCapacity(int dim) noexcept;

// Formats values as "[v1,v2,...]" followed by NUL; returns the length without the NUL.
std::size_t FormatVectorText(const float *values, int dim, char *out) noexcept;

// The whitespace the text format tolerates (PostgreSQL's scanner_isspace).
inline bool
IsVectorSpace(char c) noexcept
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
