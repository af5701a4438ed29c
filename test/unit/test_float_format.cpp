#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "quiver/float_format.hpp"

namespace {

std::string
Fmt(float f)
{
	char buf[quiver::core::kFloatTextMax];
	std::size_t n = quiver::core::FormatFloatShortest(f, buf);
	EXPECT_LT(n, quiver::core::kFloatTextMax);
	return std::string(buf, n);
}

// Expected strings are what PostgreSQL 15's float4out prints for the same values.
TEST(FloatFormat, MatchesPostgresLayout)
{
	EXPECT_EQ(Fmt(0.0f), "0");
	EXPECT_EQ(Fmt(-0.0f), "-0");
	EXPECT_EQ(Fmt(1.0f), "1");
	EXPECT_EQ(Fmt(-3.0f), "-3");
	EXPECT_EQ(Fmt(2.5f), "2.5");
	EXPECT_EQ(Fmt(1.23456f), "1.23456");
	EXPECT_EQ(Fmt(100000.0f), "100000");
	EXPECT_EQ(Fmt(123456.0f), "123456");
	EXPECT_EQ(Fmt(1000000.0f), "1e+06");
	EXPECT_EQ(Fmt(1234567.0f), "1.234567e+06");
	EXPECT_EQ(Fmt(0.0001f), "0.0001");
	EXPECT_EQ(Fmt(0.00012f), "0.00012");
	EXPECT_EQ(Fmt(0.00001f), "1e-05");
	EXPECT_EQ(Fmt(1.5e38f), "1.5e+38");
	EXPECT_EQ(Fmt(-1.5e-38f), "-1.5e-38");
	EXPECT_EQ(Fmt(0.1f), "0.1");
	EXPECT_EQ(Fmt(0.6f), "0.6");
	EXPECT_EQ(Fmt(std::numeric_limits<float>::max()), "3.4028235e+38");
	EXPECT_EQ(Fmt(std::numeric_limits<float>::denorm_min()), "1e-45");
	EXPECT_EQ(Fmt(-std::numeric_limits<float>::denorm_min()), "-1e-45");
	EXPECT_EQ(Fmt(16777215.0f), "1.6777215e+07");
	EXPECT_EQ(Fmt(std::numeric_limits<float>::quiet_NaN()), "NaN");
	EXPECT_EQ(Fmt(std::numeric_limits<float>::infinity()), "Infinity");
	EXPECT_EQ(Fmt(-std::numeric_limits<float>::infinity()), "-Infinity");
}

// Every finite float must read back to exactly the same bits.
TEST(FloatFormat, RoundTripsRandomBitPatterns)
{
	std::mt19937 rng(12345);
	for (int i = 0; i < 200000; i++) {
		std::uint32_t bits = static_cast<std::uint32_t>(rng());
		float f;
		std::memcpy(&f, &bits, sizeof f);
		if (!std::isfinite(f))
			continue;
		std::string s = Fmt(f);
		float back = std::strtof(s.c_str(), nullptr);
		std::uint32_t back_bits;
		std::memcpy(&back_bits, &back, sizeof back_bits);
		ASSERT_EQ(bits, back_bits) << s;
	}
}

} // namespace
