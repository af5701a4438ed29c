// Distances between bit strings (PostgreSQL's `bit` type): Hamming and Jaccard, from
// population counts. Three implementations: portable (any CPU), POPCNT (x86 CPUs from 2008
// on; every CPU with AVX2 has it) and AVX-512 VPOPCNTDQ (64 bits per lane). The kernel level
// chosen by InitKernels picks among them, so QUIVER_KERNEL_LEVEL=scalar also forces the
// portable counts; all give identical results.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quiver/kernels.hpp"

namespace quiver::core {

struct JaccardCounts {
	std::uint64_t intersection; // bits set in both
	std::uint64_t union_;       // bits set in either
};

using HammingFn = std::uint64_t (*)(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes);
using JaccardFn = JaccardCounts (*)(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes);

struct BitKernels {
	const char *name; // "portable", "popcnt", "avx512vpopcntdq"
	HammingFn hamming;
	JaccardFn jaccard;
};

// The portable reference.
const BitKernels &PortableBitKernels() noexcept;

// The fastest implementation this CPU runs that the kernel level allows (scalar and sse2:
// portable; avx2: popcnt; avx512: avx512vpopcntdq when the CPU has it, else popcnt).
const BitKernels &BitKernelsFor(KernelLevel level) noexcept;

// The bit kernels of the level InitKernels chose (portable until it runs).
const BitKernels &ActiveBitKernels() noexcept;

// 1 - |a and b| / |a or b|; 1 when neither has a bit set (pgvector's convention).
inline double
JaccardDistance(JaccardCounts c) noexcept
{
	if (c.union_ == 0)
		return 1.0;
	return 1.0 - static_cast<double>(c.intersection) / static_cast<double>(c.union_);
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
