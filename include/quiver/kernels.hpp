// Distance kernels over float32 vectors, chosen once per process for the CPU found.
//
// Each architecture level has its own translation unit compiled with that level's flags
// (src/core/kernels_<level>.cpp). The choice is made by us with __builtin_cpu_supports, not by
// xsimd's dispatcher: Debian's xsimd 8.1.0 reads the AVX bit from the wrong CPUID leaf and does
// not check that the OS saves AVX/AVX-512 state. Callers keep plain function pointers, which is
// also what hnswlib's SpaceInterface wants.
//
// All sums accumulate in float32: pgvector does the same, and its observable results
// (for example l2_distance('[3e38]', '[-3e38]') = Infinity) depend on it.
#pragma once

#include <cstddef>

namespace quiver::core {

enum class KernelLevel : int { Scalar = 0, SSE2 = 1, AVX2 = 2, AVX512 = 3 };

struct CosineSums {
	float dot;
	float norm_a; // sum of a[i]^2
	float norm_b; // sum of b[i]^2
};

using DistanceFn = float (*)(const float *a, const float *b, std::size_t n);
using CosineSumsFn = CosineSums (*)(const float *a, const float *b, std::size_t n);

struct F32Kernels {
	KernelLevel level;
	DistanceFn l2_squared; // sum (a[i]-b[i])^2
	DistanceFn dot;        // sum a[i]*b[i]
	DistanceFn l1;         // sum |a[i]-b[i]|
	CosineSumsFn cosine_sums;
};

// "scalar", "sse2", "avx2", "avx512".
const char *KernelLevelName(KernelLevel level) noexcept;

// Parses a level name as printed by KernelLevelName; false when unknown.
bool ParseKernelLevel(const char *name, KernelLevel *out) noexcept;

// Whether this build has the level and this CPU and OS can run it.
bool KernelLevelSupported(KernelLevel level) noexcept;

// The best level this build, CPU and OS support.
KernelLevel DetectKernelLevel() noexcept;

// The kernels of one level; the level must be supported (falls back to scalar otherwise).
const F32Kernels &KernelsFor(KernelLevel level) noexcept;

// The scalar reference, the ground truth every other level is tested against.
const F32Kernels &ScalarKernels() noexcept;

// Chooses the active kernels: the level named by the environment variable
// QUIVER_KERNEL_LEVEL if it is set, known and supported, else the best detected one.
// Returns the level chosen; *ignored_request is set when the variable named a level that is
// unknown or unsupported here (so the caller can warn). Call once, at load time.
KernelLevel InitKernels(bool *ignored_request) noexcept;

// The active kernels (scalar-safe defaults until InitKernels runs).
const F32Kernels &ActiveKernels() noexcept;

} // namespace quiver::core

#include "quiver/core_only.hpp"
