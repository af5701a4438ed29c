#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/vector_binary.hpp"

using quiver::core::ParseVectorBinary;
using quiver::core::VectorBinarySize;
using quiver::core::VectorBinaryStatus;
using quiver::core::WriteVectorBinary;

namespace {

std::vector<std::uint8_t>
Encode(const std::vector<float> &v)
{
	std::vector<std::uint8_t> out(VectorBinarySize(static_cast<int>(v.size())));
	WriteVectorBinary(v.data(), static_cast<int>(v.size()), out.data());
	return out;
}

TEST(VectorBinary, LayoutIsPgvectorsNetworkOrder)
{
	auto bytes = Encode({1.0f, -2.0f});
	// int16 dim = 2, int16 unused = 0, float 1.0 = 0x3f800000, float -2.0 = 0xc0000000
	std::vector<std::uint8_t> expected{0, 2, 0, 0, 0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0};
	EXPECT_EQ(bytes, expected);
}

TEST(VectorBinary, RoundTrips)
{
	std::vector<float> v{0.5f, -1e-38f, 3.4e38f, 0.0f, -0.0f};
	auto bytes = Encode(v);
	std::vector<float> out(16);
	auto r = ParseVectorBinary(bytes.data(), bytes.size(), -1, out.data(), 16000);
	ASSERT_EQ(r.status, VectorBinaryStatus::Ok);
	EXPECT_EQ(r.consumed, bytes.size());
	out.resize(static_cast<std::size_t>(r.dim));
	for (std::size_t i = 0; i < v.size(); i++)
		EXPECT_EQ(std::signbit(out[i]), std::signbit(v[i]));
	EXPECT_EQ(out, v);
}

TEST(VectorBinary, RejectsBadMessages)
{
	std::vector<float> out(16);
	auto check = [&](std::vector<std::uint8_t> bytes, int expected_dim, VectorBinaryStatus want) {
		auto r = ParseVectorBinary(bytes.data(), bytes.size(), expected_dim, out.data(), 8);
		EXPECT_EQ(r.status, want);
	};
	check({}, -1, VectorBinaryStatus::Truncated);
	check({0, 1, 0}, -1, VectorBinaryStatus::Truncated);
	check({0, 1, 0, 0, 0x3f, 0x80, 0}, -1, VectorBinaryStatus::Truncated);
	check({0, 0, 0, 0}, -1, VectorBinaryStatus::NoDimensions);
	check({0xff, 0xff, 0, 0}, -1, VectorBinaryStatus::TooManyDimensions); // "-1" on the wire
	check({0, 9, 0, 0}, -1, VectorBinaryStatus::TooManyDimensions);
	check({0, 1, 0, 0, 0x3f, 0x80, 0, 0}, 2, VectorBinaryStatus::DimensionMismatch);
	check({0, 1, 0, 1, 0x3f, 0x80, 0, 0}, -1, VectorBinaryStatus::UnusedNotZero);
	check({0, 1, 0, 0, 0x7f, 0xc0, 0, 0}, -1, VectorBinaryStatus::NaNValue);
	check({0, 1, 0, 0, 0xff, 0x80, 0, 0}, -1, VectorBinaryStatus::InfiniteValue);
	// Extra bytes are left for the caller: PostgreSQL reports "incorrect binary data format".
	std::vector<std::uint8_t> longer{0, 1, 0, 0, 0x3f, 0x80, 0, 0, 9};
	auto r = ParseVectorBinary(longer.data(), longer.size(), -1, out.data(), 8);
	EXPECT_EQ(r.status, VectorBinaryStatus::Ok);
	EXPECT_EQ(r.consumed, 8u);
}

} // namespace
