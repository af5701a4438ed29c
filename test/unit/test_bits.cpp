// Bit-string kernels: every implementation this CPU runs against a bit-by-bit reference, for
// lengths around every unrolling boundary, misaligned inputs, and the kernel level choice.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/bits.hpp"

namespace quiver::core {
namespace {

std::uint64_t
NaiveHamming(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes)
{
	std::uint64_t n = 0;
	for (std::size_t i = 0; i < bytes * 8; i++)
		n += ((a[i / 8] >> (i % 8)) & 1) != ((b[i / 8] >> (i % 8)) & 1) ? 1 : 0;
	return n;
}

JaccardCounts
NaiveJaccard(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes)
{
	JaccardCounts c{0, 0};
	for (std::size_t i = 0; i < bytes * 8; i++) {
		bool x = (a[i / 8] >> (i % 8)) & 1, y = (b[i / 8] >> (i % 8)) & 1;
		c.intersection += x && y ? 1 : 0;
		c.union_ += x || y ? 1 : 0;
	}
	return c;
}

std::vector<const BitKernels *>
AllImplementations()
{
	std::vector<const BitKernels *> all{&PortableBitKernels()};
	for (KernelLevel level : {KernelLevel::AVX2, KernelLevel::AVX512}) {
		const BitKernels &k = BitKernelsFor(level);
		bool seen = false;
		for (const BitKernels *p : all)
			seen = seen || p == &k;
		if (!seen)
			all.push_back(&k);
	}
	return all;
}

TEST(BitKernels, MatchTheBitByBitReference)
{
	std::mt19937 rng(7);
	std::uniform_int_distribution<int> byte(0, 255);
	std::vector<std::size_t> lengths;
	for (std::size_t n = 0; n <= 200; n++)
		lengths.push_back(n);
	lengths.insert(lengths.end(), {511, 512, 513, 1024, 4000, 8000});
	for (const BitKernels *k : AllImplementations()) {
		for (std::size_t offset : {0, 1, 3}) {
			for (std::size_t n : lengths) {
				std::vector<std::uint8_t> a(n + offset), b(n + offset);
				for (auto &x : a)
					x = static_cast<std::uint8_t>(byte(rng));
				for (auto &x : b)
					x = static_cast<std::uint8_t>(byte(rng));
				const std::uint8_t *pa = a.data() + offset, *pb = b.data() + offset;
				ASSERT_EQ(k->hamming(pa, pb, n), NaiveHamming(pa, pb, n)) << k->name << " n=" << n;
				JaccardCounts got = k->jaccard(pa, pb, n), want = NaiveJaccard(pa, pb, n);
				ASSERT_EQ(got.intersection, want.intersection) << k->name << " n=" << n;
				ASSERT_EQ(got.union_, want.union_) << k->name << " n=" << n;
			}
		}
	}
}

TEST(BitKernels, AllOnesAndAllZeros)
{
	std::vector<std::uint8_t> ones(8000, 0xFF), zeros(8000, 0);
	for (const BitKernels *k : AllImplementations()) {
		EXPECT_EQ(k->hamming(ones.data(), zeros.data(), ones.size()), 64000u) << k->name;
		EXPECT_EQ(k->hamming(ones.data(), ones.data(), ones.size()), 0u) << k->name;
		EXPECT_EQ(JaccardDistance(k->jaccard(zeros.data(), zeros.data(), zeros.size())), 1.0) << k->name;
		EXPECT_EQ(JaccardDistance(k->jaccard(ones.data(), ones.data(), ones.size())), 0.0) << k->name;
	}
}

TEST(BitKernels, LevelChoice)
{
	EXPECT_EQ(&BitKernelsFor(KernelLevel::Scalar), &PortableBitKernels());
	EXPECT_EQ(&BitKernelsFor(KernelLevel::SSE2), &PortableBitKernels());
	bool ignored = false;
	KernelLevel level = InitKernels(&ignored);
	EXPECT_EQ(&ActiveBitKernels(), &BitKernelsFor(level));
}

} // namespace
} // namespace quiver::core
