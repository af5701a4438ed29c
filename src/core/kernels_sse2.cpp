// The SSE2 kernels (compiled with -msse2). Keep this file to the instantiations: see kernels_impl.hpp.
// SSE2 has no F16C: the half kernels widen halves with integer instructions (HalfOps<sse2>).
#include "quiver/kernels_impl.hpp"
#include "kernels_internal.hpp"

namespace quiver::core {

namespace {
constexpr internal::LevelKernels kKernels = {MakeF32Kernels<xsimd::sse2>(KernelLevel::SSE2),
                                             MakeF16Kernels<xsimd::sse2>(KernelLevel::SSE2)};
} // namespace

const internal::LevelKernels &
internal::KernelsSSE2() noexcept
{
	return kKernels;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
