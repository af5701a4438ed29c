// Half conversions against their definition, and the half kernels of every level against the
// float32 kernels of the same level on the converted vectors, to the bit.
//
// Levels this CPU cannot run are skipped, not failed, as in test_kernels.cpp.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/half.hpp"
#include "quiver/kernels.hpp"

namespace quiver::core {

// Names the level in parameterised test names and failure messages instead of its bytes.
static void
PrintTo(KernelLevel level, std::ostream *os)
{
	*os << KernelLevelName(level);
}

namespace {

constexpr KernelLevel kAllLevels[] = {KernelLevel::Scalar, KernelLevel::SSE2, KernelLevel::AVX2, KernelLevel::AVX512};
constexpr Half kHalfInf = 0x7C00;
constexpr Half kHalfQuietNaN = 0x7E00;

std::uint32_t
Bits(float f)
{
	std::uint32_t b;
	std::memcpy(&b, &f, sizeof b);
	return b;
}

float
FromBits(std::uint32_t b)
{
	float f;
	std::memcpy(&f, &b, sizeof f);
	return f;
}

// The value of a finite half straight from the definition of binary16, in double.
double
HalfValue(Half h)
{
	int exponent = (h >> 10) & 0x1F;
	int mantissa = h & 0x3FF;
	double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
	return (h & 0x8000) != 0 ? -magnitude : magnitude;
}

// Round to nearest, ties to even, by search instead of bit manipulation: the nearest of the two
// finite halves around |f|, or Inf from 65520 up (where 65536, the next step, would be nearer).
Half
ReferenceFloatToHalf(float f)
{
	Half sign = std::signbit(f) ? 0x8000 : 0;
	double magnitude = std::fabs(static_cast<double>(f));
	if (magnitude >= 65520.0)
		return static_cast<Half>(sign | kHalfInf);
	// Positive halves are ordered like their patterns: find the last one not above magnitude.
	Half lo = 0, hi = 0x7BFF;
	while (lo < hi) {
		Half mid = static_cast<Half>((lo + hi + 1) / 2);
		if (HalfValue(mid) <= magnitude)
			lo = mid;
		else
			hi = static_cast<Half>(mid - 1);
	}
	Half up = static_cast<Half>(lo + 1);
	double up_value = lo == 0x7BFF ? 65536.0 : HalfValue(up);
	double below = magnitude - HalfValue(lo);
	double above = up_value - magnitude;
	Half nearest = below < above ? lo : above < below ? up : (lo & 1) == 0 ? lo : up;
	return static_cast<Half>(sign | nearest);
}

bool
HalfIsNaN(Half h)
{
	return !HalfIsFinite(h) && (h & 0x3FF) != 0;
}

// Floats where rounding to half is easy to get wrong: every point halfway between two adjacent
// halves, one float step either side of it, every half itself, the edges of the range, and
// signalling and quiet NaNs with payloads; then random bit patterns over the whole float range.
std::vector<float>
ConversionProbes()
{
	std::vector<float> v;
	for (std::uint32_t h = 0; h < 0x7C00; h++) {
		float exact = static_cast<float>(HalfValue(static_cast<Half>(h)));
		double next = h == 0x7BFF ? 65536.0 : HalfValue(static_cast<Half>(h + 1));
		float halfway = static_cast<float>((HalfValue(static_cast<Half>(h)) + next) / 2);
		for (float x : {exact, halfway, std::nextafter(halfway, 0.0f), std::nextafter(halfway, 1e9f)}) {
			v.push_back(x);
			v.push_back(-x);
		}
	}
	const float kSpecial[] = {0.0f,
	                          -0.0f,
	                          65504.0f,
	                          65519.996f,
	                          65520.0f,
	                          65536.0f,
	                          1e10f,
	                          std::numeric_limits<float>::max(),
	                          std::numeric_limits<float>::infinity(),
	                          -std::numeric_limits<float>::infinity(),
	                          std::numeric_limits<float>::min(),
	                          std::numeric_limits<float>::denorm_min(),
	                          std::ldexp(1.0f, -25),
	                          std::ldexp(1.0f, -26),
	                          std::ldexp(3.0f, -26),
	                          FromBits(0x7FC00000),
	                          FromBits(0xFFC00001),
	                          FromBits(0x7F800001),
	                          FromBits(0x7FA02000),
	                          FromBits(0xFF802000),
	                          FromBits(0x7FFFFFFF)};
	v.insert(v.end(), std::begin(kSpecial), std::end(kSpecial));
	std::mt19937 rng(4242);
	for (int i = 0; i < 1000000; i++)
		v.push_back(FromBits(static_cast<std::uint32_t>(rng())));
	return v;
}

TEST(HalfToFloat, EveryPatternMatchesTheDefinition)
{
	for (std::uint32_t i = 0; i <= 0xFFFF; i++) {
		Half h = static_cast<Half>(i);
		float f = HalfToFloat(h);
		SCOPED_TRACE(::testing::Message() << "half 0x" << std::hex << i);
		EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0);
		if (HalfIsFinite(h)) {
			EXPECT_EQ(static_cast<double>(f), HalfValue(h));
		} else if (HalfIsNaN(h)) {
			// Quiet, payload kept: what F16C's VCVTPH2PS gives too.
			EXPECT_EQ(Bits(f), ((h & 0x8000u) << 16) | 0x7FC00000u | ((h & 0x3FFu) << 13));
		} else {
			EXPECT_TRUE(std::isinf(f));
		}
		if (HasFailure())
			return;
	}
}

TEST(HalfToFloat, KnownValues)
{
	EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
	EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
	EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
	EXPECT_EQ(HalfToFloat(0x0400), 6.1035156e-05f);
	EXPECT_EQ(HalfToFloat(0x0001), 5.9604645e-08f);
	EXPECT_EQ(HalfToFloat(0x03FF), 6.0975552e-05f);
	EXPECT_EQ(Bits(HalfToFloat(0x8000)), 0x80000000u);
	EXPECT_EQ(HalfToFloat(kHalfInf), std::numeric_limits<float>::infinity());
	EXPECT_EQ(HalfToFloat(0xFC00), -std::numeric_limits<float>::infinity());
	EXPECT_TRUE(std::isnan(HalfToFloat(0x7C01)));
}

TEST(FloatToHalf, EveryHalfRoundTrips)
{
	for (std::uint32_t i = 0; i <= 0xFFFF; i++) {
		Half h = static_cast<Half>(i);
		Half back = FloatToHalf(HalfToFloat(h));
		// A signalling NaN comes back quiet, as through F16C.
		EXPECT_EQ(back, HalfIsNaN(h) ? (h | 0x0200) : h) << "half 0x" << std::hex << i;
	}
}

TEST(FloatToHalf, KnownValues)
{
	EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
	EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
	EXPECT_EQ(FloatToHalf(65519.996f), 0x7BFF);
	EXPECT_EQ(FloatToHalf(65520.0f), kHalfInf); // the tie goes to the even pattern, Inf
	EXPECT_EQ(FloatToHalf(-65520.0f), 0xFC00);
	EXPECT_EQ(FloatToHalf(1e10f), kHalfInf);
	EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), kHalfInf);
	EXPECT_EQ(FloatToHalf(6.1035156e-05f), 0x0400);
	EXPECT_EQ(FloatToHalf(5.9604645e-08f), 0x0001);
	EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
	EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
	// Ties to even: 1 + 2^-11 is halfway between 1 (even) and 1 + 2^-10 (odd).
	EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
	EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
	EXPECT_EQ(FloatToHalf(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
	// The same among subnormals: 2^-25 is halfway between 0 and the smallest one.
	EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);
	EXPECT_EQ(FloatToHalf(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
	EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);
	EXPECT_EQ(FloatToHalf(std::ldexp(5.0f, -25)), 0x0002);
	// Just below the smallest normal, rounding up into it.
	EXPECT_EQ(FloatToHalf(std::nextafter(6.1035156e-05f, 0.0f)), 0x0400);
	EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
	EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::denorm_min()), 0x8000);
	EXPECT_TRUE(HalfIsNaN(FloatToHalf(std::nanf(""))));
	EXPECT_TRUE(HalfIsNaN(FloatToHalf(FromBits(0x7F800001)))); // payload only in the low bits
}

TEST(FloatToHalf, MatchesRoundingBySearch)
{
	for (float f : ConversionProbes()) {
		if (std::isnan(f)) {
			EXPECT_TRUE(HalfIsNaN(FloatToHalf(f)));
			continue;
		}
		ASSERT_EQ(FloatToHalf(f), ReferenceFloatToHalf(f)) << "float 0x" << std::hex << Bits(f);
	}
}

// `offset` elements past a 64-byte boundary inside storage, with `guard` on both sides of n
// elements: a kernel that reads one element too many sees a NaN, one that writes one too many
// changes a guard.
template <class T>
T *
PlaceGuarded(std::vector<T> &storage, std::size_t n, std::size_t offset, T guard)
{
	storage.assign(n + offset + 128 / sizeof(T), guard);
	auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
	std::size_t skip = ((64 - addr % 64) % 64) / sizeof(T);
	return storage.data() + skip + offset + 32 / sizeof(T);
}

std::vector<float>
ToFloats(const Half *h, std::size_t n)
{
	std::vector<float> f(n);
	for (std::size_t i = 0; i < n; i++)
		f[i] = HalfToFloat(h[i]);
	return f;
}

class HalfLevelTest : public ::testing::TestWithParam<KernelLevel> {
  protected:
	void
	SetUp() override
	{
		if (!KernelLevelSupported(GetParam()))
			GTEST_SKIP() << KernelLevelName(GetParam()) << " is not supported on this machine";
		half_ = &HalfKernelsFor(GetParam());
		f32_ = &KernelsFor(GetParam());
	}

	// The contract of half.hpp: each half kernel gives the bits the float32 kernel of the same
	// level gives on the converted vectors, for every length and alignment; gen(rng) draws a half.
	template <class Gen>
	void
	CompareWithFloatKernels(Gen gen)
	{
		// Every length up to 67, so every tail and unroll remainder of every level, then long ones.
		std::vector<std::size_t> lengths(68);
		std::iota(lengths.begin(), lengths.end(), std::size_t{0});
		lengths.insert(lengths.end(), {100, 768, 784, 1536, 16000});
		std::mt19937 rng(2024);
		std::vector<Half> store_a, store_b;
		for (std::size_t n : lengths) {
			// Offsets in halves from a 64-byte boundary, never the same for both.
			static constexpr std::size_t kOffsets[][2] = {{0, 0}, {0, 1}, {1, 2}, {2, 3}, {3, 0}};
			for (const auto &offsets : kOffsets) {
				Half *a = PlaceGuarded(store_a, n, offsets[0], kHalfQuietNaN);
				Half *b = PlaceGuarded(store_b, n, offsets[1], kHalfQuietNaN);
				for (std::size_t i = 0; i < n; i++) {
					a[i] = gen(rng);
					b[i] = gen(rng);
				}
				std::vector<float> fa = ToFloats(a, n), fb = ToFloats(b, n);
				SCOPED_TRACE(::testing::Message() << "n=" << n << " off_a=" << offsets[0] << " off_b=" << offsets[1]);
				EXPECT_EQ(Bits(half_->l2_squared(a, b, n)), Bits(f32_->l2_squared(fa.data(), fb.data(), n)));
				EXPECT_EQ(Bits(half_->dot(a, b, n)), Bits(f32_->dot(fa.data(), fb.data(), n)));
				EXPECT_EQ(Bits(half_->l1(a, b, n)), Bits(f32_->l1(fa.data(), fb.data(), n)));
				CosineSums got = half_->cosine_sums(a, b, n);
				CosineSums want = f32_->cosine_sums(fa.data(), fb.data(), n);
				EXPECT_EQ(Bits(got.dot), Bits(want.dot));
				EXPECT_EQ(Bits(got.norm_a), Bits(want.norm_a));
				EXPECT_EQ(Bits(got.norm_b), Bits(want.norm_b));
				if (HasFailure())
					return; // one length's failures say enough
			}
		}
	}

	const F16Kernels *half_ = nullptr;
	const F32Kernels *f32_ = nullptr;
};

TEST_P(HalfLevelTest, ReportsItsLevel)
{
	EXPECT_EQ(half_->level, GetParam());
	EXPECT_EQ(f32_->level, GetParam());
}

TEST_P(HalfLevelTest, MatchesFloatKernelsOnUnitRange)
{
	std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
	CompareWithFloatKernels([&](std::mt19937 &rng) { return FloatToHalf(dist(rng)); });
}

// Any finite half, subnormals and 65504 included: magnitudes from 2^-24 to 2^16, so a few terms
// dominate every sum and each rounding shows.
TEST_P(HalfLevelTest, MatchesFloatKernelsOnAnyFiniteHalf)
{
	std::uniform_int_distribution<int> dist(0, 0xFFFF);
	CompareWithFloatKernels([&](std::mt19937 &rng) {
		Half h;
		do
			h = static_cast<Half>(dist(rng));
		while (!HalfIsFinite(h));
		return h;
	});
}

TEST_P(HalfLevelTest, MatchesScalarOnSmallIntegers)
{
	const F16Kernels &ref = ScalarHalfKernels();
	std::mt19937 rng(5);
	std::uniform_int_distribution<int> dist(-8, 8);
	std::vector<Half> a(1001), b(1001);
	for (std::size_t i = 0; i < a.size(); i++) {
		a[i] = FloatToHalf(static_cast<float>(dist(rng)));
		b[i] = FloatToHalf(static_cast<float>(dist(rng)));
	}
	// Every partial sum is exact whatever the order, so any level must agree with the scalar one.
	EXPECT_EQ(half_->l2_squared(a.data(), b.data() + 1, 1000), ref.l2_squared(a.data(), b.data() + 1, 1000));
	EXPECT_EQ(half_->dot(a.data(), b.data() + 1, 1000), ref.dot(a.data(), b.data() + 1, 1000));
	EXPECT_EQ(half_->l1(a.data(), b.data() + 1, 1000), ref.l1(a.data(), b.data() + 1, 1000));
	EXPECT_EQ(half_->cosine_sums(a.data(), b.data(), 1000).norm_b, ref.cosine_sums(a.data(), b.data(), 1000).norm_b);
}

// pgvector: inner_product('[65504]'::halfvec, '[65504]') = 4290774016, a float32 sum of exact
// float products; in the scalar tail (n = 1) and inside the SIMD body (n = 64, at index 37).
TEST_P(HalfLevelTest, LargestHalfSquaredIsFinite)
{
	for (std::size_t n : {std::size_t{1}, std::size_t{64}}) {
		SCOPED_TRACE(::testing::Message() << "n=" << n);
		std::vector<Half> a(n, 0), b(n, 0);
		std::size_t at = n == 1 ? 0 : 37;
		a[at] = FloatToHalf(kHalfMax);
		b[at] = FloatToHalf(-kHalfMax);
		EXPECT_EQ(half_->dot(a.data(), a.data(), n), 4290774016.0f);
		EXPECT_EQ(half_->dot(a.data(), b.data(), n), -4290774016.0f);
		EXPECT_EQ(half_->l2_squared(a.data(), b.data(), n), 17163096064.0f);
		EXPECT_EQ(half_->l1(a.data(), b.data(), n), 131008.0f);
		EXPECT_EQ(half_->cosine_sums(a.data(), b.data(), n).norm_b, 4290774016.0f);
	}
}

TEST_P(HalfLevelTest, ToFloatMatchesScalarForEveryHalf)
{
	std::vector<Half> all(0x10000);
	for (std::size_t i = 0; i < all.size(); i++)
		all[i] = static_cast<Half>(i);
	std::vector<float> store;
	const float guard = -1234.5f;
	// Every half at four alignments; then short lengths, where only the tail runs.
	for (std::size_t offset = 0; offset < 4; offset++) {
		for (std::size_t n : {all.size() - offset, std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{15},
		                      std::size_t{17}, std::size_t{31}}) {
			SCOPED_TRACE(::testing::Message() << "n=" << n << " offset=" << offset);
			float *out = PlaceGuarded(store, n, offset, guard);
			half_->to_float(all.data() + offset, out, n);
			for (std::size_t i = 0; i < n; i++)
				ASSERT_EQ(Bits(out[i]), Bits(HalfToFloat(all[offset + i]))) << "half 0x" << std::hex << all[offset + i];
			EXPECT_EQ(out[-1], guard);
			EXPECT_EQ(out[n], guard);
		}
	}
}

// NaNs included: every level quiets them and keeps the top of the payload, so even those match.
TEST_P(HalfLevelTest, FromFloatMatchesScalar)
{
	static const std::vector<float> probes = ConversionProbes();
	std::vector<Half> store;
	for (std::size_t offset = 0; offset < 4; offset++) {
		for (std::size_t n : {probes.size() - offset, std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{15},
		                      std::size_t{17}, std::size_t{31}}) {
			SCOPED_TRACE(::testing::Message() << "n=" << n << " offset=" << offset);
			Half *out = PlaceGuarded(store, n, offset, Half{0x1234});
			half_->from_float(probes.data() + offset, out, n);
			for (std::size_t i = 0; i < n; i++) {
				float f = probes[offset + i];
				if (std::isnan(f)) {
					ASSERT_TRUE(HalfIsNaN(out[i])) << "float 0x" << std::hex << Bits(f);
				}
				ASSERT_EQ(out[i], FloatToHalf(f)) << "float 0x" << std::hex << Bits(f);
			}
			EXPECT_EQ(out[-1], 0x1234);
			EXPECT_EQ(out[n], 0x1234);
		}
	}
}

std::string
LevelParamName(const ::testing::TestParamInfo<KernelLevel> &info)
{
	return KernelLevelName(info.param);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, HalfLevelTest, ::testing::ValuesIn(kAllLevels), LevelParamName);

TEST(HalfKernels, ScalarKernelsAreScalar)
{
	EXPECT_EQ(ScalarHalfKernels().level, KernelLevel::Scalar);
	EXPECT_EQ(HalfKernelsFor(KernelLevel::Scalar).dot, ScalarHalfKernels().dot);
}

// InitKernels switches the half kernels with the float32 ones, to the same level; the bulk
// conversions follow. Restores the process's own choice afterwards.
TEST(HalfKernels, FollowTheActiveLevel)
{
	const char *old = std::getenv("QUIVER_KERNEL_LEVEL");
	std::string saved = old != nullptr ? old : "";
	for (KernelLevel level : kAllLevels) {
		if (!KernelLevelSupported(level))
			continue;
		SCOPED_TRACE(KernelLevelName(level));
		setenv("QUIVER_KERNEL_LEVEL", KernelLevelName(level), 1);
		EXPECT_EQ(InitKernels(nullptr), level);
		EXPECT_EQ(ActiveKernels().level, level);
		EXPECT_EQ(ActiveHalfKernels().level, level);
		EXPECT_EQ(ActiveHalfKernels().l2_squared, HalfKernelsFor(level).l2_squared);

		const float in[] = {1.0f, -2.5f, 65520.0f, 1e-8f, 0.1f,  3.0f,  4.0f,  5.0f,  6.0f, 7.0f,
		                    8.0f, 9.0f,  10.0f,    11.0f, 12.0f, 13.0f, 14.0f, 15.0f, 16.0f};
		constexpr std::size_t n = sizeof in / sizeof in[0];
		Half h[n];
		float back[n];
		FloatToHalfArray(in, h, n);
		HalfToFloatArray(h, back, n);
		for (std::size_t i = 0; i < n; i++) {
			EXPECT_EQ(h[i], FloatToHalf(in[i])) << i;
			EXPECT_EQ(Bits(back[i]), Bits(HalfToFloat(h[i]))) << i;
		}
	}
	if (old != nullptr)
		setenv("QUIVER_KERNEL_LEVEL", saved.c_str(), 1);
	else
		unsetenv("QUIVER_KERNEL_LEVEL");
	InitKernels(nullptr);
}

} // namespace
} // namespace quiver::core
