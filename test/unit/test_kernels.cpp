// Every SIMD kernel level against the scalar reference, plus level selection.
//
// Levels this CPU cannot run are skipped, not failed; on a machine with AVX-512 all four run.
// QUIVER_KERNEL_LEVEL in the environment additionally selects what ActiveKernelsFromEnvironment
// checks, so a run per level also exercises InitKernels' choice end to end.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

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
constexpr float kInf = std::numeric_limits<float>::infinity();

// Sets or unsets an environment variable for one scope, restoring what was there before.
class ScopedEnv {
  public:
	ScopedEnv(const char *name, const char *value) : name_(name)
	{
		const char *old = std::getenv(name);
		had_old_ = old != nullptr;
		if (had_old_)
			old_ = old;
		if (value != nullptr)
			setenv(name, value, 1);
		else
			unsetenv(name);
	}
	~ScopedEnv()
	{
		if (had_old_)
			setenv(name_.c_str(), old_.c_str(), 1);
		else
			unsetenv(name_.c_str());
	}
	ScopedEnv(const ScopedEnv &) = delete;
	ScopedEnv &operator=(const ScopedEnv &) = delete;

  private:
	std::string name_;
	std::string old_;
	bool had_old_ = false;
};

// A vector placed `offset` floats past a 64-byte boundary, with NaN on both sides: a kernel that
// reads one element too many (or too few from the start) returns NaN instead of a plausible number.
class GuardedVector {
  public:
	GuardedVector(std::size_t n, std::size_t offset) : storage_(n + offset + 64, std::nanf(""))
	{
		auto addr = reinterpret_cast<std::uintptr_t>(storage_.data());
		std::size_t skip = ((64 - addr % 64) % 64) / sizeof(float);
		data_ = storage_.data() + skip + offset + 16;
		n_ = n;
	}
	float *
	data()
	{
		return data_;
	}
	float &
	operator[](std::size_t i)
	{
		return data_[i];
	}
	std::size_t
	size() const
	{
		return n_;
	}

  private:
	std::vector<float> storage_;
	float *data_;
	std::size_t n_;
};

// Relative tolerance against the size of the terms, not of the result, since dot products
// cancel. Reordering a float sum of n terms moves it by about sqrt(n) roundings of that size.
double
Tolerance(double sum_abs_terms, std::size_t n)
{
	double growth = std::sqrt(static_cast<double>(n) / 1000.0);
	return 1e-5 * (growth > 1.0 ? growth : 1.0) * sum_abs_terms + 1e-30;
}

struct TermSums {
	double l2 = 0, dot = 0, l1 = 0, norm_a = 0, norm_b = 0;
};

TermSums
AbsTermSums(const float *a, const float *b, std::size_t n)
{
	TermSums s;
	for (std::size_t i = 0; i < n; i++) {
		double x = a[i], y = b[i];
		s.l2 += (x - y) * (x - y);
		s.dot += std::fabs(x * y);
		s.l1 += std::fabs(x - y);
		s.norm_a += x * x;
		s.norm_b += y * y;
	}
	return s;
}

const std::vector<std::size_t> &
TestLengths()
{
	static const std::vector<std::size_t> lengths = [] {
		std::vector<std::size_t> v;
		for (std::size_t n = 0; n <= 67; n++)
			v.push_back(n);
		for (std::size_t n : {100, 784, 1536, 16000})
			v.push_back(n);
		return v;
	}();
	return lengths;
}

class KernelLevelTest : public ::testing::TestWithParam<KernelLevel> {
  protected:
	void
	SetUp() override
	{
		if (!KernelLevelSupported(GetParam()))
			GTEST_SKIP() << KernelLevelName(GetParam()) << " is not supported on this machine";
		kernels_ = &KernelsFor(GetParam());
	}

	// Compares all four kernels with the scalar ones for every test length and alignment;
	// gen(rng) draws one element.
	template <class Gen>
	void
	CompareWithScalar(const F32Kernels &k, Gen gen, bool exact)
	{
		const F32Kernels &ref = ScalarKernels();
		std::mt19937 rng(12345);
		for (std::size_t n : TestLengths()) {
			// Offsets in floats from a 64-byte boundary: both aligned, one or the other, both
			// misaligned, and never by the same amount, so no kernel can assume they match.
			static constexpr std::size_t kOffsets[][2] = {{0, 0}, {0, 1}, {1, 2}, {2, 3}, {3, 0}};
			for (const auto &offsets : kOffsets) {
				std::size_t off_a = offsets[0];
				std::size_t off_b = offsets[1];
				GuardedVector a(n, off_a), b(n, off_b);
				for (std::size_t i = 0; i < n; i++) {
					a[i] = gen(rng);
					b[i] = gen(rng);
				}
				SCOPED_TRACE(::testing::Message() << "n=" << n << " off_a=" << off_a << " off_b=" << off_b);
				TermSums t = AbsTermSums(a.data(), b.data(), n);
				auto check = [&](const char *what, float got, float want, double terms) {
					if (exact) {
						EXPECT_EQ(got, want) << what;
					} else {
						EXPECT_NEAR(got, want, Tolerance(terms, n)) << what;
					}
				};
				check("l2_squared", k.l2_squared(a.data(), b.data(), n), ref.l2_squared(a.data(), b.data(), n), t.l2);
				check("dot", k.dot(a.data(), b.data(), n), ref.dot(a.data(), b.data(), n), t.dot);
				check("l1", k.l1(a.data(), b.data(), n), ref.l1(a.data(), b.data(), n), t.l1);
				CosineSums got = k.cosine_sums(a.data(), b.data(), n);
				CosineSums want = ref.cosine_sums(a.data(), b.data(), n);
				check("cosine dot", got.dot, want.dot, t.dot);
				check("cosine norm_a", got.norm_a, want.norm_a, t.norm_a);
				check("cosine norm_b", got.norm_b, want.norm_b, t.norm_b);
				if (HasFailure())
					return; // one length's failures say enough; do not print thousands
			}
		}
	}

	const F32Kernels *kernels_ = nullptr;
};

TEST_P(KernelLevelTest, ReportsItsLevel)
{
	EXPECT_EQ(kernels_->level, GetParam());
}

TEST_P(KernelLevelTest, SmallKnownValues)
{
	const float a[] = {1, 2, 3};
	const float b[] = {4, 6, 8};
	EXPECT_EQ(kernels_->l2_squared(a, b, 3), 50.0f);
	EXPECT_EQ(kernels_->dot(a, b, 3), 40.0f);
	EXPECT_EQ(kernels_->l1(a, b, 3), 12.0f);
	CosineSums s = kernels_->cosine_sums(a, b, 3);
	EXPECT_EQ(s.dot, 40.0f);
	EXPECT_EQ(s.norm_a, 14.0f);
	EXPECT_EQ(s.norm_b, 116.0f);
}

// Small integers make every partial sum exact in float whatever the order, so here any
// difference from the scalar result (a lost or doubled element) is a bug, even at n = 16000.
TEST_P(KernelLevelTest, MatchesScalarExactlyOnSmallIntegers)
{
	std::uniform_int_distribution<int> dist(-8, 8);
	CompareWithScalar(
	    *kernels_, [&](std::mt19937 &rng) { return static_cast<float>(dist(rng)); }, true);
}

TEST_P(KernelLevelTest, MatchesScalarOnUnitRange)
{
	std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
	CompareWithScalar(
	    *kernels_, [&](std::mt19937 &rng) { return dist(rng); }, false);
}

TEST_P(KernelLevelTest, MatchesScalarOnWideRange)
{
	std::uniform_real_distribution<float> dist(-1000.0f, 1000.0f);
	CompareWithScalar(
	    *kernels_, [&](std::mt19937 &rng) { return dist(rng); }, false);
}

// Magnitudes spread over 2^-20 .. 2^20, so a few terms dominate each sum.
TEST_P(KernelLevelTest, MatchesScalarOnMixedMagnitudes)
{
	std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
	std::uniform_int_distribution<int> exponent(-20, 20);
	CompareWithScalar(
	    *kernels_, [&](std::mt19937 &rng) { return std::ldexp(mantissa(rng), exponent(rng)); }, false);
}

// The lane and accumulator of each element depend on its index only, not on the address, so a
// distance computed from an index page and one recomputed from the heap agree to the bit.
TEST_P(KernelLevelTest, ResultDoesNotDependOnAddress)
{
	std::mt19937 rng(99);
	std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
	for (std::size_t n : {std::size_t{17}, std::size_t{100}, std::size_t{768}, std::size_t{1000}}) {
		std::vector<float> a(n), b(n);
		for (std::size_t i = 0; i < n; i++) {
			a[i] = dist(rng);
			b[i] = dist(rng);
		}
		GuardedVector a0(n, 0), b0(n, 0);
		std::copy(a.begin(), a.end(), a0.data());
		std::copy(b.begin(), b.end(), b0.data());
		float l2 = kernels_->l2_squared(a0.data(), b0.data(), n);
		float dot = kernels_->dot(a0.data(), b0.data(), n);
		float l1 = kernels_->l1(a0.data(), b0.data(), n);
		CosineSums cs = kernels_->cosine_sums(a0.data(), b0.data(), n);
		for (std::size_t off_a : {0, 1, 2, 3, 5, 8, 15}) {
			for (std::size_t off_b : {0, 1, 4, 7, 12}) {
				SCOPED_TRACE(::testing::Message() << "n=" << n << " off_a=" << off_a << " off_b=" << off_b);
				GuardedVector a1(n, off_a), b1(n, off_b);
				std::copy(a.begin(), a.end(), a1.data());
				std::copy(b.begin(), b.end(), b1.data());
				EXPECT_EQ(kernels_->l2_squared(a1.data(), b1.data(), n), l2);
				EXPECT_EQ(kernels_->dot(a1.data(), b1.data(), n), dot);
				EXPECT_EQ(kernels_->l1(a1.data(), b1.data(), n), l1);
				CosineSums got = kernels_->cosine_sums(a1.data(), b1.data(), n);
				EXPECT_EQ(got.dot, cs.dot);
				EXPECT_EQ(got.norm_a, cs.norm_a);
				EXPECT_EQ(got.norm_b, cs.norm_b);
			}
		}
	}
}

TEST_P(KernelLevelTest, ZeroLengthIsZero)
{
	const float a[] = {1.0f};
	EXPECT_EQ(kernels_->l2_squared(a, a, 0), 0.0f);
	EXPECT_EQ(kernels_->dot(a, a, 0), 0.0f);
	EXPECT_EQ(kernels_->l1(a, a, 0), 0.0f);
	CosineSums s = kernels_->cosine_sums(a, a, 0);
	EXPECT_EQ(s.dot, 0.0f);
	EXPECT_EQ(s.norm_a, 0.0f);
	EXPECT_EQ(s.norm_b, 0.0f);
	EXPECT_EQ(kernels_->l2_squared(nullptr, nullptr, 0), 0.0f);
	EXPECT_EQ(kernels_->dot(nullptr, nullptr, 0), 0.0f);
}

// pgvector's l2_distance('[3e38]', '[-3e38]') is Infinity because it sums in float; so must we,
// both in the scalar tail (n = 1) and inside the SIMD body (n = 64, value at index 37).
TEST_P(KernelLevelTest, SingleTermOverflowIsInfinity)
{
	for (std::size_t n : {std::size_t{1}, std::size_t{64}}) {
		SCOPED_TRACE(::testing::Message() << "n=" << n);
		std::vector<float> a(n, 0.0f), b(n, 0.0f);
		std::size_t at = n == 1 ? 0 : 37;
		a[at] = 3e38f;
		b[at] = -3e38f;
		EXPECT_EQ(kernels_->l2_squared(a.data(), b.data(), n), kInf);
		EXPECT_EQ(kernels_->l1(a.data(), b.data(), n), kInf);
		EXPECT_EQ(kernels_->dot(a.data(), a.data(), n), kInf);
		EXPECT_EQ(kernels_->dot(a.data(), b.data(), n), -kInf);
		CosineSums s = kernels_->cosine_sums(a.data(), b.data(), n);
		EXPECT_EQ(s.dot, -kInf);
		EXPECT_EQ(s.norm_a, kInf);
		EXPECT_EQ(s.norm_b, kInf);
	}
}

// Every term is finite, only their float sum overflows: a double accumulator would hide this.
TEST_P(KernelLevelTest, AccumulatedOverflowIsInfinity)
{
	for (std::size_t n : {std::size_t{2}, std::size_t{64}, std::size_t{67}}) {
		SCOPED_TRACE(::testing::Message() << "n=" << n);
		std::vector<float> big(n, 1.5e19f), zero(n, 0.0f), huge(n, 2e38f);
		EXPECT_EQ(kernels_->l2_squared(big.data(), zero.data(), n), kInf);
		EXPECT_EQ(kernels_->dot(big.data(), big.data(), n), kInf);
		EXPECT_EQ(kernels_->l1(huge.data(), zero.data(), n), kInf);
		EXPECT_EQ(kernels_->cosine_sums(big.data(), big.data(), n).norm_a, kInf);
	}
}

std::string
LevelParamName(const ::testing::TestParamInfo<KernelLevel> &info)
{
	return KernelLevelName(info.param);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, KernelLevelTest, ::testing::ValuesIn(kAllLevels), LevelParamName);

TEST(KernelLevels, NamesRoundTrip)
{
	for (KernelLevel level : kAllLevels) {
		KernelLevel parsed = KernelLevel::Scalar;
		ASSERT_TRUE(ParseKernelLevel(KernelLevelName(level), &parsed)) << KernelLevelName(level);
		EXPECT_EQ(parsed, level);
	}
	EXPECT_STREQ(KernelLevelName(KernelLevel::Scalar), "scalar");
	EXPECT_STREQ(KernelLevelName(KernelLevel::SSE2), "sse2");
	EXPECT_STREQ(KernelLevelName(KernelLevel::AVX2), "avx2");
	EXPECT_STREQ(KernelLevelName(KernelLevel::AVX512), "avx512");
}

TEST(KernelLevels, ParseRejectsUnknownNames)
{
	KernelLevel parsed = KernelLevel::AVX2;
	for (const char *bad : {"", "bogus", "avx", "avx5120", "scalar ", " sse2"})
		EXPECT_FALSE(ParseKernelLevel(bad, &parsed)) << '"' << bad << '"';
	EXPECT_FALSE(ParseKernelLevel(nullptr, &parsed));
	EXPECT_EQ(parsed, KernelLevel::AVX2); // untouched on failure
	EXPECT_TRUE(ParseKernelLevel("AVX512", &parsed));
	EXPECT_EQ(parsed, KernelLevel::AVX512);
}

TEST(KernelLevels, DetectedLevelIsSupported)
{
	EXPECT_TRUE(KernelLevelSupported(KernelLevel::Scalar));
	KernelLevel best = DetectKernelLevel();
	EXPECT_TRUE(KernelLevelSupported(best));
	EXPECT_EQ(KernelsFor(best).level, best);
	// Levels are nested: whatever is detected implies everything below it.
	for (KernelLevel level : kAllLevels) {
		if (static_cast<int>(level) <= static_cast<int>(best)) {
			EXPECT_TRUE(KernelLevelSupported(level)) << KernelLevelName(level);
		}
	}
	std::printf("detected kernel level: %s\n", KernelLevelName(best));
}

TEST(KernelLevels, ScalarKernelsAreScalar)
{
	EXPECT_EQ(ScalarKernels().level, KernelLevel::Scalar);
	EXPECT_EQ(KernelsFor(KernelLevel::Scalar).l2_squared, ScalarKernels().l2_squared);
}

TEST(InitKernels, HonoursRequestedScalar)
{
	ScopedEnv env("QUIVER_KERNEL_LEVEL", "scalar");
	bool ignored = true;
	EXPECT_EQ(InitKernels(&ignored), KernelLevel::Scalar);
	EXPECT_FALSE(ignored);
	EXPECT_EQ(ActiveKernels().level, KernelLevel::Scalar);
	EXPECT_EQ(ActiveKernels().dot, ScalarKernels().dot);
}

TEST(InitKernels, HonoursEverySupportedLevel)
{
	for (KernelLevel level : kAllLevels) {
		if (!KernelLevelSupported(level))
			continue;
		ScopedEnv env("QUIVER_KERNEL_LEVEL", KernelLevelName(level));
		bool ignored = true;
		EXPECT_EQ(InitKernels(&ignored), level);
		EXPECT_FALSE(ignored);
		EXPECT_EQ(ActiveKernels().level, level);
	}
}

TEST(InitKernels, IgnoresUnknownRequest)
{
	ScopedEnv env("QUIVER_KERNEL_LEVEL", "bogus");
	bool ignored = false;
	EXPECT_EQ(InitKernels(&ignored), DetectKernelLevel());
	EXPECT_TRUE(ignored);
	EXPECT_EQ(ActiveKernels().level, DetectKernelLevel());
}

TEST(InitKernels, UnsetOrEmptyMeansDetected)
{
	for (const char *value : {static_cast<const char *>(nullptr), ""}) {
		ScopedEnv env("QUIVER_KERNEL_LEVEL", value);
		bool ignored = true;
		EXPECT_EQ(InitKernels(&ignored), DetectKernelLevel());
		EXPECT_FALSE(ignored);
		EXPECT_EQ(InitKernels(nullptr), DetectKernelLevel()); // the out-parameter is optional
	}
}

// Runs InitKernels with the environment this process was started with, so that
// `QUIVER_KERNEL_LEVEL=sse2 unit_kernels` checks that the requested level is the one in use.
TEST(InitKernels, ActiveKernelsFromEnvironment)
{
	bool ignored = false;
	KernelLevel level = InitKernels(&ignored);
	const char *requested = std::getenv("QUIVER_KERNEL_LEVEL");
	KernelLevel parsed = KernelLevel::Scalar;
	if (requested != nullptr && ParseKernelLevel(requested, &parsed) && KernelLevelSupported(parsed)) {
		EXPECT_EQ(level, parsed);
		EXPECT_FALSE(ignored);
	}
	const F32Kernels &k = ActiveKernels();
	EXPECT_EQ(k.level, level);
	std::printf("active kernel level: %s\n", KernelLevelName(level));

	std::mt19937 rng(7);
	std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
	std::vector<float> a(1537), b(1537);
	for (std::size_t i = 0; i < a.size(); i++) {
		a[i] = dist(rng);
		b[i] = dist(rng);
	}
	TermSums t = AbsTermSums(a.data() + 1, b.data(), 1536);
	EXPECT_NEAR(k.l2_squared(a.data() + 1, b.data(), 1536), ScalarKernels().l2_squared(a.data() + 1, b.data(), 1536),
	            Tolerance(t.l2, 1536));
	EXPECT_NEAR(k.dot(a.data() + 1, b.data(), 1536), ScalarKernels().dot(a.data() + 1, b.data(), 1536),
	            Tolerance(t.dot, 1536));
}

} // namespace
} // namespace quiver::core
