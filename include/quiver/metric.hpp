// The distance a vector index orders by, shared by the graph builder and the index glue.
//
// Every metric is expressed as "smaller is closer", which is what hnswlib and the SQL operators
// both need:
//   L2            squared Euclidean distance (monotone in `<->`, skips the square root)
//   InnerProduct  -dot(a, b), pgvector's `<#>`
//   Cosine        1 - dot(a, b) / (|a| |b|), pgvector's `<=>`
//   L1            sum |a[i] - b[i]|, pgvector's `<+>`
//   Hamming       differing bits, pgvector's `<~>` on bit
//   Jaccard       1 - |a and b| / |a or b|, pgvector's `<%>` on bit
// For Hamming and Jaccard the builder's "floats" are only storage: each holds 32 bits of the
// bit string (zero-padded), and the distance counts bits.
#pragma once

#include <cstdint>

namespace quiver::core {

// The values are stored in index metapages: never renumber, only append.
enum class Metric : std::uint8_t { L2 = 0, InnerProduct = 1, Cosine = 2, L1 = 3, Hamming = 4, Jaccard = 5 };

// Reads a stored metric byte; false for a value no Quiver version has written.
constexpr bool
MetricFromByte(std::uint8_t value, Metric *out) noexcept
{
	if (value > static_cast<std::uint8_t>(Metric::Jaccard))
		return false;
	if (out != nullptr)
		*out = static_cast<Metric>(value);
	return true;
}

// "l2", "ip", "cosine", "l1", "hamming", "jaccard" (the opclass suffixes), or "unknown" for an out-of-range value.
constexpr const char *
MetricName(Metric metric) noexcept
{
	switch (metric) {
	case Metric::L2:
		return "l2";
	case Metric::InnerProduct:
		return "ip";
	case Metric::Cosine:
		return "cosine";
	case Metric::L1:
		return "l1";
	case Metric::Hamming:
		return "hamming";
	case Metric::Jaccard:
		return "jaccard";
	}
	return "unknown";
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
