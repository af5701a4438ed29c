// Links between the per-architecture kernel TUs and the dispatcher; not part of the public API.
#pragma once

#include <cstddef>

#include "quiver/kernels.hpp"

namespace quiver::core::internal {

// The scalar reference (kernels_scalar.cpp, compiled with the baseline flags).
float ScalarL2Squared(const float *a, const float *b, std::size_t n);
float ScalarDot(const float *a, const float *b, std::size_t n);
float ScalarL1(const float *a, const float *b, std::size_t n);
CosineSums ScalarCosineSums(const float *a, const float *b, std::size_t n);

#if defined(QUIVER_HAVE_X86_KERNELS) && QUIVER_HAVE_X86_KERNELS
// Each is defined in kernels_<level>.cpp, built with that level's -m flags. Calling them is
// harmless on any CPU; calling a function pointer they hold needs the level's instructions.
const F32Kernels &KernelsSSE2() noexcept;
const F32Kernels &KernelsAVX2() noexcept;
const F32Kernels &KernelsAVX512() noexcept;
#endif

} // namespace quiver::core::internal

#include "quiver/core_only.hpp"
