// Bit-string distances. The POPCNT and VPOPCNTDQ variants are compiled for their instruction
// sets with target attributes and only called after the CPU check in BitKernelsFor; nothing
// here is inline in a header, so no other translation unit can pick up their code.
#include "quiver/bits.hpp"

#include <atomic>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace quiver::core {

namespace {

// Loads 8 bytes in memory order; a bit string has no alignment, and popcounts do not care
// about byte order.
inline std::uint64_t
Load64(const std::uint8_t *p)
{
	std::uint64_t v;
	std::memcpy(&v, p, sizeof v);
	return v;
}

// Counting by halves (the classic SWAR popcount): what __builtin_popcountll compiles to
// without POPCNT, written out so the reference does not depend on the compiler's choice.
inline std::uint64_t
PortablePopcount(std::uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

template <typename Pop>
std::uint64_t
HammingWith(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes, Pop pop)
{
	std::uint64_t count = 0;
	std::size_t i = 0;
	for (; i + 8 <= bytes; i += 8)
		count += pop(Load64(a + i) ^ Load64(b + i));
	for (; i < bytes; i++)
		count += pop(static_cast<std::uint64_t>(a[i] ^ b[i]));
	return count;
}

template <typename Pop>
JaccardCounts
JaccardWith(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes, Pop pop)
{
	JaccardCounts c{0, 0};
	std::size_t i = 0;
	for (; i + 8 <= bytes; i += 8) {
		std::uint64_t x = Load64(a + i), y = Load64(b + i);
		c.intersection += pop(x & y);
		c.union_ += pop(x | y);
	}
	for (; i < bytes; i++) {
		c.intersection += pop(static_cast<std::uint64_t>(a[i] & b[i]));
		c.union_ += pop(static_cast<std::uint64_t>(a[i] | b[i]));
	}
	return c;
}

std::uint64_t
PortableHamming(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes)
{
	return HammingWith(a, b, bytes, PortablePopcount);
}

JaccardCounts
PortableJaccard(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes)
{
	return JaccardWith(a, b, bytes, PortablePopcount);
}

constexpr BitKernels kPortable = {"portable", &PortableHamming, &PortableJaccard};

#if defined(__x86_64__)

// Loops written out rather than shared through HammingWith: a lambda or template instantiated
// outside these functions would not be compiled for POPCNT.
__attribute__((target("popcnt"))) std::uint64_t
PopcntHamming(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes)
{
	std::uint64_t count = 0;
	std::size_t i = 0;
	for (; i + 8 <= bytes; i += 8)
		count += static_cast<std::uint64_t>(__builtin_popcountll(Load64(a + i) ^ Load64(b + i)));
	for (; i < bytes; i++)
		count += static_cast<std::uint64_t>(__builtin_popcount(static_cast<unsigned>(a[i] ^ b[i])));
	return count;
}

__attribute__((target("popcnt"))) JaccardCounts
PopcntJaccard(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes)
{
	JaccardCounts c{0, 0};
	std::size_t i = 0;
	for (; i + 8 <= bytes; i += 8) {
		std::uint64_t x = Load64(a + i), y = Load64(b + i);
		c.intersection += static_cast<std::uint64_t>(__builtin_popcountll(x & y));
		c.union_ += static_cast<std::uint64_t>(__builtin_popcountll(x | y));
	}
	for (; i < bytes; i++) {
		c.intersection += static_cast<std::uint64_t>(__builtin_popcount(static_cast<unsigned>(a[i] & b[i])));
		c.union_ += static_cast<std::uint64_t>(__builtin_popcount(static_cast<unsigned>(a[i] | b[i])));
	}
	return c;
}

constexpr BitKernels kPopcnt = {"popcnt", &PopcntHamming, &PopcntJaccard};

// Sums the eight 64-bit lanes (stored and added: GCC 12's _mm512_reduce_add_epi64 draws a
// -Wuninitialized warning from its own header).
__attribute__((target("avx512f"))) std::uint64_t
SumLanes(__m512i v)
{
	alignas(64) std::uint64_t lanes[8];
	_mm512_store_si512(lanes, v);
	std::uint64_t sum = 0;
	for (std::uint64_t lane : lanes)
		sum += lane;
	return sum;
}

// 64 bytes per step with per-lane counts summed at the end; the tail (under 64 bytes) goes
// through the POPCNT loop.
__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) std::uint64_t
Avx512Hamming(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes)
{
	__m512i acc = _mm512_setzero_si512();
	std::size_t i = 0;
	for (; i + 64 <= bytes; i += 64) {
		__m512i x = _mm512_loadu_si512(a + i);
		__m512i y = _mm512_loadu_si512(b + i);
		acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
	}
	return SumLanes(acc) + PopcntHamming(a + i, b + i, bytes - i);
}

__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) JaccardCounts
Avx512Jaccard(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes)
{
	__m512i inter = _mm512_setzero_si512();
	__m512i uni = _mm512_setzero_si512();
	std::size_t i = 0;
	for (; i + 64 <= bytes; i += 64) {
		__m512i x = _mm512_loadu_si512(a + i);
		__m512i y = _mm512_loadu_si512(b + i);
		inter = _mm512_add_epi64(inter, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
		uni = _mm512_add_epi64(uni, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
	}
	JaccardCounts tail = PopcntJaccard(a + i, b + i, bytes - i);
	tail.intersection += SumLanes(inter);
	tail.union_ += SumLanes(uni);
	return tail;
}

constexpr BitKernels kAvx512 = {"avx512vpopcntdq", &Avx512Hamming, &Avx512Jaccard};

#endif

constinit std::atomic<const BitKernels *> g_active_bits{&kPortable};

} // namespace

const BitKernels &
PortableBitKernels() noexcept
{
	return kPortable;
}

const BitKernels &
BitKernelsFor(KernelLevel level) noexcept
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	bool popcnt = __builtin_cpu_supports("popcnt");
	if (level == KernelLevel::AVX512 && popcnt && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512vpopcntdq"))
		return kAvx512;
	if ((level == KernelLevel::AVX2 || level == KernelLevel::AVX512) && popcnt)
		return kPopcnt;
#else
	(void) level;
#endif
	return kPortable;
}

const BitKernels &
ActiveBitKernels() noexcept
{
	return *g_active_bits.load(std::memory_order_acquire);
}

namespace internal {

void
SetActiveBitKernels(KernelLevel level) noexcept
{
	g_active_bits.store(&BitKernelsFor(level), std::memory_order_release);
}

} // namespace internal

} // namespace quiver::core
