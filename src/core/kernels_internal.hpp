// Links between the per-architecture kernel TUs and the dispatcher; not part of the public API.
#pragma once

#include <cstddef>

#include "quiver/half.hpp"
#include "quiver/kernels.hpp"

namespace quiver::core::internal {

// The Arch tag of the code compiled with the baseline flags (kernels_scalar.cpp, half.cpp) where
// it instantiates templates of kernels_impl.hpp.
struct Baseline {};

// The scalar reference (kernels_scalar.cpp, compiled with the baseline flags), for T = float and
// T = Half: a half is converted exactly and then summed like a float.
template <class T> float ScalarL2Squared(const T *a, const T *b, std::size_t n);
template <class T> float ScalarDot(const T *a, const T *b, std::size_t n);
template <class T> float ScalarL1(const T *a, const T *b, std::size_t n);
template <class T> CosineSums ScalarCosineSums(const T *a, const T *b, std::size_t n);

// The scalar bulk conversions (half.cpp).
void ScalarHalfToFloat(const Half *in, float *out, std::size_t n);
void ScalarFloatToHalf(const float *in, Half *out, std::size_t n);

// Everything one level provides, in one immutable table, so that one atomic pointer switches the
// float32 and half kernels together.
struct LevelKernels {
	F32Kernels f32;
	F16Kernels f16;
};

#if defined(QUIVER_HAVE_X86_KERNELS) && QUIVER_HAVE_X86_KERNELS
// Each is defined in kernels_<level>.cpp, built with that level's -m flags. Calling them is
// harmless on any CPU; calling a function pointer they hold needs the level's instructions.
const LevelKernels &KernelsSSE2() noexcept;
const LevelKernels &KernelsAVX2() noexcept;
const LevelKernels &KernelsAVX512() noexcept;
#endif

// Chooses the bit-string kernels for a level (bits.cpp); called by InitKernels.
void SetActiveBitKernels(KernelLevel level) noexcept;

} // namespace quiver::core::internal

#include "quiver/core_only.hpp"
