// SIMD bodies of the float32 and half distance kernels, written once and instantiated per
// architecture and element type.
//
// Only src/core/kernels_<level>.cpp include this, each compiled with its own -m flags (and
// half.cpp, for HalfBits with a tag of its own). Every function here is a template on Arch (or
// lives inside one), so each TU emits symbols no other TU emits: a non-template inline helper
// would exist once per TU with different instruction sets, and the linker could keep the AVX-512
// copy for an SSE2 caller. For the same reason this header pulls in no STL containers of its own.
//
// Accumulation is float32 throughout, like the scalar reference and pgvector: a sum that
// overflows a float must give +Inf here too, whatever the lane count. Which element goes to which
// lane and accumulator depends only on its index, never on the address, so equal inputs give
// bit-identical results wherever they are stored (an index-computed distance and a recheck agree).
//
// A half kernel is the float32 kernel with a converting load: the same body, instantiated with
// T = Half, reads each batch as halves and widens it to the same float lanes the float32 kernel
// would have loaded. So a halfvec distance equals, to the bit, the float32 distance of the
// converted vectors at the same level, which is the contract half.hpp states.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "quiver/half.hpp"
#include "quiver/kernels.hpp"

namespace quiver::core::impl {

template <class Arch> using FloatBatch = xsimd::batch<float, Arch>;

// Exact conversions between half and float in integer arithmetic, for the CPUs without F16C and
// for the scalar reference (half.cpp), which other levels are tested against bit for bit. NaNs
// come out quiet with the top of their payload kept, as F16C's VCVTPH2PS and VCVTPS2PH do, so
// every path stores the same bits for every input.
template <class Arch> struct HalfBits {
	static float
	ToFloat(Half h) noexcept
	{
		std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
		std::uint32_t exponent = (h >> 10) & 0x1Fu;
		std::uint32_t mantissa = h & 0x3FFu;
		std::uint32_t bits;
		if (exponent == 0x1F)
			bits = 0x7F800000u | (mantissa != 0 ? 0x00400000u : 0u) | (mantissa << 13);
		else if (exponent != 0)
			bits = ((exponent + 127 - 15) << 23) | (mantissa << 13);
		else if (mantissa == 0)
			bits = 0;
		else {
			// A subnormal half, mantissa * 2^-24, is a normal float: move its top bit into the
			// implicit position. The builtin, not std::countl_zero, for the reason at the top.
			std::uint32_t top = 31u - static_cast<std::uint32_t>(__builtin_clz(mantissa));
			bits = ((top + 127 - 24) << 23) | ((mantissa << (23 - top)) & 0x7FFFFFu);
		}
		return __builtin_bit_cast(float, sign | bits);
	}

	// Round to nearest, ties to even.
	static Half
	FromFloat(float f) noexcept
	{
		std::uint32_t x = __builtin_bit_cast(std::uint32_t, f);
		std::uint32_t sign = (x >> 16) & 0x8000u;
		std::uint32_t magnitude = x & 0x7FFFFFFFu;
		std::uint32_t bits;
		if (magnitude > 0x7F800000u)
			bits = 0x7E00u | ((magnitude >> 13) & 0x3FFu);
		else if (magnitude >= 0x47800000u) // 65536 and up, and Inf
			bits = 0x7C00u;
		else if (magnitude >= 0x38800000u) {
			// At least the smallest normal half, 2^-14: rebias the exponent and round off the
			// low 13 mantissa bits. A carry out of the mantissa bumps the exponent, which is
			// right, up to Inf for 65520 and above.
			std::uint32_t rebiased = magnitude - ((127u - 15u) << 23);
			bits = (rebiased + 0x0FFFu + ((rebiased >> 13) & 1u)) >> 13;
		} else if (magnitude <= 0x33000000u) {
			// At most 2^-25, half the smallest subnormal: the tie goes to the even one, zero.
			bits = 0;
		} else {
			// A subnormal half (or the smallest normal, when rounding carries): the value in
			// units of 2^-24, whose float exponent is 102 .. 112 here.
			std::uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
			std::uint32_t shift = 126u - (magnitude >> 23);
			std::uint32_t rest = mantissa & ((1u << shift) - 1u);
			std::uint32_t halfway = 1u << (shift - 1u);
			bits = mantissa >> shift;
			if (rest > halfway || (rest == halfway && (bits & 1u) != 0))
				bits++;
		}
		return static_cast<Half>(sign | bits);
	}
};

// What one architecture needs beyond plain xsimd batches; the defaults suit sse2 and fma3<avx2>.
template <class Arch> struct ArchOps {
	using B = FloatBatch<Arch>;

	// Whether a batch that straddles two cache lines is better loaded as two halves.
	static constexpr bool kSplitUnaligned = false;
	// Whether the last n % lanes elements are done by one masked batch instead of a scalar loop.
	static constexpr bool kMaskedTail = false;

	static B
	LoadWhole(const float *p) noexcept
	{
		return B::load_unaligned(p);
	}

	// acc + x * y. A real FMA for fma3<...>; on sse2, which has none, xsimd multiplies and adds,
	// rounding the product first like the scalar reference does.
	static B
	MulAdd(const B &x, const B &y, const B &acc) noexcept
	{
		return xsimd::fma(x, y, acc);
	}

	static float
	ReduceAdd(const B &x) noexcept
	{
#if XSIMD_VERSION_MAJOR < 9
		return xsimd::hadd(x);
#else
		return xsimd::reduce_add(x);
#endif
	}
};

#if defined(__AVX512F__)
template <> struct ArchOps<xsimd::avx512f> {
	using B = FloatBatch<xsimd::avx512f>;

	// A 64-byte load from an address that is not 64-byte aligned touches two cache lines, and on
	// the AMD EPYC machines here that halves the rate at which vectors stream from memory (about
	// 22 against 40-44 GB/s in bench_kernels; 32-byte AVX2 loads do not suffer). PostgreSQL keeps
	// tuples only 8-byte aligned, so for a misaligned input each batch is read as two 32-byte
	// loads joined in a register: the same lanes, so the same result, for about the AVX2 cost on
	// cache-resident data and the full memory bandwidth on streamed data. Aligning the loop to
	// the address instead (peeling) would be as fast but would make the rounding, and so the
	// result, depend on where a vector happens to be stored.
	static constexpr bool kSplitUnaligned = true;
	static constexpr bool kMaskedTail = true;

	static bool
	LineAligned(const float *p) noexcept
	{
		return reinterpret_cast<std::uintptr_t>(p) % 64 == 0;
	}

	static B
	LoadWhole(const float *p) noexcept
	{
		return _mm512_loadu_ps(p);
	}

	static B
	LoadHalves(const float *p) noexcept
	{
		// Zero-masking form for the same reason as in ReduceAdd below.
		__m512d low = _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(p)));
		__m256d high = _mm256_castps_pd(_mm256_loadu_ps(p + 8));
		return _mm512_castpd_ps(_mm512_maskz_insertf64x4(0xFF, low, high, 1));
	}

	// The first count (< 16) elements at p, zeros in the other lanes, reading nothing past them.
	// A zero lane adds nothing to any of the four sums.
	static B
	LoadFirst(const float *p, std::size_t count) noexcept
	{
		return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1u), p);
	}

	// xsimd 8.1.0 has no fused kernel for avx512f: its fma is a multiply and an add, fused or not
	// depending on the compiler's -ffp-contract. The intrinsic makes it one vfmadd for sure.
	static B
	MulAdd(const B &x, const B &y, const B &acc) noexcept
	{
		return _mm512_fmadd_ps(x, y, acc);
	}

	// xsimd 8.1.0's avx512f hadd uses _mm512_extractf32x8_ps, an AVX512DQ instruction, which does
	// not compile (and must not run) under -mavx512f alone. _mm512_reduce_add_ps and the unmasked
	// shuffles pass _mm512_undefined_ps() through, which GCC 12 reports as -Wuninitialized once
	// inlined (GCC PR 105593); the zero-masking forms with a full mask are the same instructions.
	static float
	ReduceAdd(const B &x) noexcept
	{
		constexpr __mmask16 all = 0xFFFF;
		__m512 s = x;
		s = _mm512_add_ps(s, _mm512_maskz_shuffle_f32x4(all, s, s, _MM_SHUFFLE(1, 0, 3, 2)));
		s = _mm512_add_ps(s, _mm512_maskz_shuffle_f32x4(all, s, s, _MM_SHUFFLE(2, 3, 0, 1)));
		s = _mm512_add_ps(s, _mm512_maskz_permute_ps(all, s, _MM_SHUFFLE(1, 0, 3, 2)));
		s = _mm512_add_ps(s, _mm512_maskz_permute_ps(all, s, _MM_SHUFFLE(2, 3, 0, 1)));
		return _mm512_cvtss_f32(s);
	}
};
#endif

// Halves to float batches and back, lane by lane in integer code, into the lanes F16C would fill:
// what an architecture without a conversion instruction falls back to.
template <class Arch> struct LaneByLaneHalfOps {
	using B = FloatBatch<Arch>;

	static float
	ToFloat(Half h) noexcept
	{
		return HalfBits<Arch>::ToFloat(h);
	}

	static Half
	FromFloat(float f) noexcept
	{
		return HalfBits<Arch>::FromFloat(f);
	}

	static B
	Load(const Half *p) noexcept
	{
		float lanes[B::size];
		for (std::size_t k = 0; k < B::size; k++)
			lanes[k] = ToFloat(p[k]);
		return B::load_unaligned(lanes);
	}

	static void
	Store(const B &x, Half *p) noexcept
	{
		float lanes[B::size];
		x.store_unaligned(lanes);
		for (std::size_t k = 0; k < B::size; k++)
			p[k] = FromFloat(lanes[k]);
	}
};

template <class Arch> struct HalfOps : LaneByLaneHalfOps<Arch> {
};

#if defined(__SSE2__)
// SSE2 has no F16C, but widening four halves at once with integer instructions is as exact and
// several times faster than lane by lane, and distances only ever widen. Narrowing (input) stays
// lane by lane.
template <> struct HalfOps<xsimd::sse2> : LaneByLaneHalfOps<xsimd::sse2> {
	using B = FloatBatch<xsimd::sse2>;

	static B
	Load(const Half *p) noexcept
	{
		__m128i h = _mm_unpacklo_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)), _mm_setzero_si128());
		__m128i sign = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16);
		__m128i magnitude = _mm_and_si128(h, _mm_set1_epi32(0x7FFF));
		// Normal: exponent and mantissa shifted into place, the exponent rebiased from 15 to 127.
		// Inf and NaN: the exponent rebiased further, to 255, and a NaN made quiet.
		__m128i normal = _mm_add_epi32(_mm_slli_epi32(magnitude, 13), _mm_set1_epi32((127 - 15) << 23));
		__m128i inf_nan = _mm_cmpgt_epi32(magnitude, _mm_set1_epi32(0x7BFF));
		__m128i nan = _mm_cmpgt_epi32(magnitude, _mm_set1_epi32(0x7C00));
		normal = _mm_add_epi32(normal, _mm_and_si128(inf_nan, _mm_set1_epi32((255 - 31 - (127 - 15)) << 23)));
		normal = _mm_or_si128(normal, _mm_and_si128(nan, _mm_set1_epi32(0x00400000)));
		// Subnormal or zero: the mantissa times 2^-24, computed in float, where both factors and
		// the product are exact normal numbers (so no rounding mode, FTZ or DAZ can change them).
		__m128 tiny = _mm_mul_ps(_mm_cvtepi32_ps(magnitude), _mm_set1_ps(0x1p-24f));
		__m128i is_tiny = _mm_cmplt_epi32(magnitude, _mm_set1_epi32(0x0400));
		__m128i bits = _mm_or_si128(_mm_and_si128(is_tiny, _mm_castps_si128(tiny)), _mm_andnot_si128(is_tiny, normal));
		return _mm_castsi128_ps(_mm_or_si128(sign, bits));
	}
};
#endif

#if defined(__F16C__)
// One element at a time with F16C, for the levels that have it. Rounding mode 0 of VCVTPS2PH is
// round to nearest, ties to even, whatever MXCSR says.
template <class Arch> struct F16cScalarOps {
	static float
	ToFloat(Half h) noexcept
	{
		return _cvtsh_ss(h);
	}

	static Half
	FromFloat(float f) noexcept
	{
		return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
	}
};

template <> struct HalfOps<xsimd::fma3<xsimd::avx2>> : F16cScalarOps<xsimd::fma3<xsimd::avx2>> {
	using B = FloatBatch<xsimd::fma3<xsimd::avx2>>;

	static B
	Load(const Half *p) noexcept
	{
		return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
	}

	static void
	Store(const B &x, Half *p) noexcept
	{
		_mm_storeu_si128(reinterpret_cast<__m128i *>(p), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
	}
};
#endif

#if defined(__AVX512F__) && defined(__F16C__)
// A batch of halves is 32 bytes, so, unlike float batches, it is never split (see
// ArchOps<avx512f>): 32-byte loads stream at full speed wherever they start.
template <> struct HalfOps<xsimd::avx512f> : F16cScalarOps<xsimd::avx512f> {
	using B = FloatBatch<xsimd::avx512f>;

	// Zero-masking forms with a full mask, for the reason given in ArchOps<avx512f>::ReduceAdd.
	static B
	Load(const Half *p) noexcept
	{
		return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
	}

	// As ArchOps<avx512f>::LoadFirst. A masked load of 16-bit elements needs AVX512BW, which this
	// level does not require, so the few halves are copied into a zeroed block instead.
	static B
	LoadFirst(const Half *p, std::size_t count) noexcept
	{
		Half lanes[16] = {};
		for (std::size_t k = 0; k < count; k++)
			lanes[k] = p[k];
		return Load(lanes);
	}

	static void
	Store(const B &x, Half *p) noexcept
	{
		_mm256_storeu_si256(reinterpret_cast<__m256i *>(p),
		                    _mm512_maskz_cvtps_ph(0xFFFF, x, _MM_FROUND_TO_NEAREST_INT));
	}
};
#endif

// Turns the elements of one input into float batches and floats: floats are loaded whole or in
// halves (kSplit), halves are converted. The kernel bodies see only this, so they are the same
// for both element types.
template <class Arch, class T, bool kSplit> struct Loader;

template <class Arch, bool kSplit> struct Loader<Arch, float, kSplit> {
	static FloatBatch<Arch>
	Load(const float *p) noexcept
	{
		if constexpr (kSplit)
			return ArchOps<Arch>::LoadHalves(p);
		else
			return ArchOps<Arch>::LoadWhole(p);
	}

	static FloatBatch<Arch>
	LoadFirst(const float *p, std::size_t count) noexcept
	{
		return ArchOps<Arch>::LoadFirst(p, count);
	}

	static float
	ToFloat(float x) noexcept
	{
		return x;
	}
};

// HalfOps has the same Load, LoadFirst (where kMaskedTail) and ToFloat.
template <class Arch> struct Loader<Arch, Half, false> : HalfOps<Arch> {
};

// Calls body(loader_a, loader_b) with the loaders that suit the element type and the alignment of
// a and b. Where the architecture never splits, there is a single instantiation and no test.
template <class Arch, class T, class Body>
inline auto
WithLoaders(const T *a, const T *b, const Body &body)
{
	using Ops = ArchOps<Arch>;
	if constexpr (Ops::kSplitUnaligned && std::is_same_v<T, float>) {
		bool split_a = !Ops::LineAligned(a);
		bool split_b = !Ops::LineAligned(b);
		if (split_a && split_b)
			return body(Loader<Arch, T, true>{}, Loader<Arch, T, true>{});
		if (split_a)
			return body(Loader<Arch, T, true>{}, Loader<Arch, T, false>{});
		if (split_b)
			return body(Loader<Arch, T, false>{}, Loader<Arch, T, true>{});
	}
	return body(Loader<Arch, T, false>{}, Loader<Arch, T, false>{});
}

} // namespace quiver::core::impl

namespace quiver::core {

// Four independent accumulators: one FMA chain alone is bound by its latency (4 cycles) while
// the core can start two per cycle.
template <class Arch, class T>
float
L2SquaredImpl(const T *a, const T *b, std::size_t n)
{
	using Ops = impl::ArchOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	return impl::WithLoaders<Arch>(a, b, [a, b, n](auto la, auto lb) {
		constexpr std::size_t w = B::size;
		B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
		std::size_t i = 0;
		for (; i + 4 * w <= n; i += 4 * w) {
			B d0 = la.Load(a + i) - lb.Load(b + i);
			B d1 = la.Load(a + i + w) - lb.Load(b + i + w);
			B d2 = la.Load(a + i + 2 * w) - lb.Load(b + i + 2 * w);
			B d3 = la.Load(a + i + 3 * w) - lb.Load(b + i + 3 * w);
			acc0 = Ops::MulAdd(d0, d0, acc0);
			acc1 = Ops::MulAdd(d1, d1, acc1);
			acc2 = Ops::MulAdd(d2, d2, acc2);
			acc3 = Ops::MulAdd(d3, d3, acc3);
		}
		for (; i + w <= n; i += w) {
			B d = la.Load(a + i) - lb.Load(b + i);
			acc0 = Ops::MulAdd(d, d, acc0);
		}
		if constexpr (Ops::kMaskedTail) {
			if (i < n) {
				B d = la.LoadFirst(a + i, n - i) - lb.LoadFirst(b + i, n - i);
				acc1 = Ops::MulAdd(d, d, acc1);
				i = n;
			}
		}
		float sum = Ops::ReduceAdd((acc0 + acc1) + (acc2 + acc3));
		for (; i < n; i++) {
			float d = la.ToFloat(a[i]) - lb.ToFloat(b[i]);
			sum += d * d;
		}
		return sum;
	});
}

template <class Arch, class T>
float
DotImpl(const T *a, const T *b, std::size_t n)
{
	using Ops = impl::ArchOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	return impl::WithLoaders<Arch>(a, b, [a, b, n](auto la, auto lb) {
		constexpr std::size_t w = B::size;
		B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
		std::size_t i = 0;
		for (; i + 4 * w <= n; i += 4 * w) {
			acc0 = Ops::MulAdd(la.Load(a + i), lb.Load(b + i), acc0);
			acc1 = Ops::MulAdd(la.Load(a + i + w), lb.Load(b + i + w), acc1);
			acc2 = Ops::MulAdd(la.Load(a + i + 2 * w), lb.Load(b + i + 2 * w), acc2);
			acc3 = Ops::MulAdd(la.Load(a + i + 3 * w), lb.Load(b + i + 3 * w), acc3);
		}
		for (; i + w <= n; i += w)
			acc0 = Ops::MulAdd(la.Load(a + i), lb.Load(b + i), acc0);
		if constexpr (Ops::kMaskedTail) {
			if (i < n) {
				acc1 = Ops::MulAdd(la.LoadFirst(a + i, n - i), lb.LoadFirst(b + i, n - i), acc1);
				i = n;
			}
		}
		float sum = Ops::ReduceAdd((acc0 + acc1) + (acc2 + acc3));
		for (; i < n; i++)
			sum += la.ToFloat(a[i]) * lb.ToFloat(b[i]);
		return sum;
	});
}

template <class Arch, class T>
float
L1Impl(const T *a, const T *b, std::size_t n)
{
	using Ops = impl::ArchOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	return impl::WithLoaders<Arch>(a, b, [a, b, n](auto la, auto lb) {
		constexpr std::size_t w = B::size;
		B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
		std::size_t i = 0;
		for (; i + 4 * w <= n; i += 4 * w) {
			acc0 += xsimd::abs(la.Load(a + i) - lb.Load(b + i));
			acc1 += xsimd::abs(la.Load(a + i + w) - lb.Load(b + i + w));
			acc2 += xsimd::abs(la.Load(a + i + 2 * w) - lb.Load(b + i + 2 * w));
			acc3 += xsimd::abs(la.Load(a + i + 3 * w) - lb.Load(b + i + 3 * w));
		}
		for (; i + w <= n; i += w)
			acc0 += xsimd::abs(la.Load(a + i) - lb.Load(b + i));
		if constexpr (Ops::kMaskedTail) {
			if (i < n) {
				acc1 += xsimd::abs(la.LoadFirst(a + i, n - i) - lb.LoadFirst(b + i, n - i));
				i = n;
			}
		}
		float sum = Ops::ReduceAdd((acc0 + acc1) + (acc2 + acc3));
		// The builtin, not std::fabs: <cmath>'s inline overloads would be emitted by every arch
		// TU at -O0 (see the top of this file), and ?: may compile to a branch that random signs
		// mispredict.
		for (; i < n; i++)
			sum += __builtin_fabsf(la.ToFloat(a[i]) - lb.ToFloat(b[i]));
		return sum;
	});
}

// The three sums are already three independent chains; unrolling twice makes six, enough to keep
// both FMA ports busy without spilling the 16 registers SSE2 and AVX2 have.
template <class Arch, class T>
CosineSums
CosineSumsImpl(const T *a, const T *b, std::size_t n)
{
	using Ops = impl::ArchOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	return impl::WithLoaders<Arch>(a, b, [a, b, n](auto la, auto lb) {
		constexpr std::size_t w = B::size;
		B dot0(0.0f), dot1(0.0f), na0(0.0f), na1(0.0f), nb0(0.0f), nb1(0.0f);
		std::size_t i = 0;
		for (; i + 2 * w <= n; i += 2 * w) {
			B a0 = la.Load(a + i);
			B b0 = lb.Load(b + i);
			B a1 = la.Load(a + i + w);
			B b1 = lb.Load(b + i + w);
			dot0 = Ops::MulAdd(a0, b0, dot0);
			na0 = Ops::MulAdd(a0, a0, na0);
			nb0 = Ops::MulAdd(b0, b0, nb0);
			dot1 = Ops::MulAdd(a1, b1, dot1);
			na1 = Ops::MulAdd(a1, a1, na1);
			nb1 = Ops::MulAdd(b1, b1, nb1);
		}
		for (; i + w <= n; i += w) {
			B a0 = la.Load(a + i);
			B b0 = lb.Load(b + i);
			dot0 = Ops::MulAdd(a0, b0, dot0);
			na0 = Ops::MulAdd(a0, a0, na0);
			nb0 = Ops::MulAdd(b0, b0, nb0);
		}
		if constexpr (Ops::kMaskedTail) {
			if (i < n) {
				B a1 = la.LoadFirst(a + i, n - i);
				B b1 = lb.LoadFirst(b + i, n - i);
				dot1 = Ops::MulAdd(a1, b1, dot1);
				na1 = Ops::MulAdd(a1, a1, na1);
				nb1 = Ops::MulAdd(b1, b1, nb1);
				i = n;
			}
		}
		CosineSums sums;
		sums.dot = Ops::ReduceAdd(dot0 + dot1);
		sums.norm_a = Ops::ReduceAdd(na0 + na1);
		sums.norm_b = Ops::ReduceAdd(nb0 + nb1);
		for (; i < n; i++) {
			float x = la.ToFloat(a[i]);
			float y = lb.ToFloat(b[i]);
			sums.dot += x * y;
			sums.norm_a += x * x;
			sums.norm_b += y * y;
		}
		return sums;
	});
}

template <class Arch>
void
HalfToFloatImpl(const Half *in, float *out, std::size_t n)
{
	using H = impl::HalfOps<Arch>;
	constexpr std::size_t w = impl::FloatBatch<Arch>::size;
	std::size_t i = 0;
	for (; i + w <= n; i += w)
		H::Load(in + i).store_unaligned(out + i);
	for (; i < n; i++)
		out[i] = H::ToFloat(in[i]);
}

template <class Arch>
void
FloatToHalfImpl(const float *in, Half *out, std::size_t n)
{
	using H = impl::HalfOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	constexpr std::size_t w = B::size;
	std::size_t i = 0;
	for (; i + w <= n; i += w)
		H::Store(B::load_unaligned(in + i), out + i);
	for (; i < n; i++)
		out[i] = H::FromFloat(in[i]);
}

// The tables kernels_<level>.cpp hand out; taking the addresses instantiates the kernels there.
template <class Arch>
constexpr F32Kernels
MakeF32Kernels(KernelLevel level) noexcept
{
	return {level, &L2SquaredImpl<Arch, float>, &DotImpl<Arch, float>, &L1Impl<Arch, float>,
	        &CosineSumsImpl<Arch, float>};
}

template <class Arch>
constexpr F16Kernels
MakeF16Kernels(KernelLevel level) noexcept
{
	return {level,
	        &L2SquaredImpl<Arch, Half>,
	        &DotImpl<Arch, Half>,
	        &L1Impl<Arch, Half>,
	        &CosineSumsImpl<Arch, Half>,
	        &HalfToFloatImpl<Arch>,
	        &FloatToHalfImpl<Arch>};
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
