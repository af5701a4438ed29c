// Chooses the kernel level once per process. Compiled with the baseline flags: nothing here may
// execute an instruction the CPU might lack; it only hands out pointers into the per-level TUs.
#include <atomic>
#include <cstdlib>

#include "quiver/half.hpp"
#include "quiver/kernels.hpp"
#include "kernels_internal.hpp"

#if defined(QUIVER_HAVE_X86_KERNELS) && QUIVER_HAVE_X86_KERNELS
#define QUIVER_X86_KERNELS_ENABLED 1
#else
#define QUIVER_X86_KERNELS_ENABLED 0
#endif

namespace quiver::core {

namespace {

constexpr internal::LevelKernels kScalarKernels = {
    {KernelLevel::Scalar, &internal::ScalarL2Squared<float>, &internal::ScalarDot<float>, &internal::ScalarL1<float>,
     &internal::ScalarCosineSums<float>},
    {KernelLevel::Scalar, &internal::ScalarL2Squared<Half>, &internal::ScalarDot<Half>, &internal::ScalarL1<Half>,
     &internal::ScalarCosineSums<Half>, &internal::ScalarHalfToFloat, &internal::ScalarFloatToHalf}};

// Constant-initialised, so a distance computed before InitKernels (or from another TU's static
// initialiser) is still correct, just slower. A pointer to an immutable table rather than a copy
// of one, so that a reader never sees half of one level's pointers and half of another's, nor
// float32 kernels of one level with half kernels of another.
constinit std::atomic<const internal::LevelKernels *> g_active{&kScalarKernels};

bool
AsciiEqualsIgnoreCase(const char *s, const char *lower)
{
	for (; *s != '\0' && *lower != '\0'; s++, lower++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
		if (c != *lower)
			return false;
	}
	return *s == '\0' && *lower == '\0';
}

constexpr KernelLevel kAllLevels[] = {KernelLevel::Scalar, KernelLevel::SSE2, KernelLevel::AVX2, KernelLevel::AVX512};

} // namespace

const char *
KernelLevelName(KernelLevel level) noexcept
{
	switch (level) {
	case KernelLevel::Scalar:
		return "scalar";
	case KernelLevel::SSE2:
		return "sse2";
	case KernelLevel::AVX2:
		return "avx2";
	case KernelLevel::AVX512:
		return "avx512";
	}
	return "unknown";
}

bool
ParseKernelLevel(const char *name, KernelLevel *out) noexcept
{
	if (name == nullptr)
		return false;
	for (KernelLevel level : kAllLevels) {
		if (AsciiEqualsIgnoreCase(name, KernelLevelName(level))) {
			if (out != nullptr)
				*out = level;
			return true;
		}
	}
	return false;
}

bool
KernelLevelSupported(KernelLevel level) noexcept
{
	switch (level) {
	case KernelLevel::Scalar:
		return true;
#if QUIVER_X86_KERNELS_ENABLED
	// libgcc's feature bits for AVX and AVX-512 are set only when XCR0 shows the OS saves that
	// register state, which is the check xsimd 8.1.0 skips. The AVX-512 TU is also built with
	// -mavx2 -mfma, so the compiler may use those there as well.
	case KernelLevel::SSE2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("sse2");
	// The half kernels of both convert with F16C. Every CPU with AVX2 has it, but a hypervisor
	// may hide it, and then AVX2 would be no use for halfvec.
	case KernelLevel::AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
	case KernelLevel::AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
		       __builtin_cpu_supports("f16c");
#else
	case KernelLevel::SSE2:
	case KernelLevel::AVX2:
	case KernelLevel::AVX512:
		return false;
#endif
	}
	return false;
}

KernelLevel
DetectKernelLevel() noexcept
{
	KernelLevel best = KernelLevel::Scalar;
	for (KernelLevel level : kAllLevels) {
		if (KernelLevelSupported(level))
			best = level;
	}
	return best;
}

const F32Kernels &
ScalarKernels() noexcept
{
	return kScalarKernels.f32;
}

const F16Kernels &
ScalarHalfKernels() noexcept
{
	return kScalarKernels.f16;
}

namespace {

const internal::LevelKernels &
LevelKernelsFor(KernelLevel level) noexcept
{
	if (!KernelLevelSupported(level))
		return kScalarKernels;
	switch (level) {
	case KernelLevel::Scalar:
		return kScalarKernels;
#if QUIVER_X86_KERNELS_ENABLED
	case KernelLevel::SSE2:
		return internal::KernelsSSE2();
	case KernelLevel::AVX2:
		return internal::KernelsAVX2();
	case KernelLevel::AVX512:
		return internal::KernelsAVX512();
#else
	case KernelLevel::SSE2:
	case KernelLevel::AVX2:
	case KernelLevel::AVX512:
		break;
#endif
	}
	return kScalarKernels;
}

} // namespace

const F32Kernels &
KernelsFor(KernelLevel level) noexcept
{
	return LevelKernelsFor(level).f32;
}

const F16Kernels &
HalfKernelsFor(KernelLevel level) noexcept
{
	return LevelKernelsFor(level).f16;
}

KernelLevel
InitKernels(bool *ignored_request) noexcept
{
	KernelLevel level = DetectKernelLevel();
	bool ignored = false;
	// An empty value counts as unset, so "QUIVER_KERNEL_LEVEL= cmd" does not draw a warning.
	const char *requested = std::getenv("QUIVER_KERNEL_LEVEL");
	if (requested != nullptr && requested[0] != '\0') {
		KernelLevel parsed = KernelLevel::Scalar;
		if (ParseKernelLevel(requested, &parsed) && KernelLevelSupported(parsed))
			level = parsed;
		else
			ignored = true;
	}
	if (ignored_request != nullptr)
		*ignored_request = ignored;
	g_active.store(&LevelKernelsFor(level), std::memory_order_release);
	internal::SetActiveBitKernels(level);
	return level;
}

const F32Kernels &
ActiveKernels() noexcept
{
	return g_active.load(std::memory_order_acquire)->f32;
}

const F16Kernels &
ActiveHalfKernels() noexcept
{
	return g_active.load(std::memory_order_acquire)->f16;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
