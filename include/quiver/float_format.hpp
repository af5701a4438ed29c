// Shortest round-trip text for float32, in PostgreSQL's float4out layout.
//
// The digits are the shortest that read back to the same float (what std::to_chars gives);
// the layout follows PostgreSQL's (and so pgvector's) float4 output: fixed notation when the
// decimal exponent is in [-4, 6), else d.ddde+XX with at least two exponent digits; "NaN",
// "Infinity", "-Infinity", "0", "-0" for the special values. Matching it byte for byte matters:
// pgvector clients and test suites compare vector text.
#pragma once

#include <cstddef>

namespace quiver::core {

// Longest output of FormatFloatShortest: "-1.2345678e-38" is 14 bytes; keep headroom.
inline constexpr std::size_t kFloatTextMax = 16;

// Writes the text of f to out (at least kFloatTextMax bytes), unterminated; returns its length.
std::size_t FormatFloatShortest(float f, char *out) noexcept;

} // namespace quiver::core

#include "quiver/core_only.hpp"
