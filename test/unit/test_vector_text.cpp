#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/vector_text.hpp"

using quiver::core::kVectorMaxDim;
using quiver::core::ParseVectorText;
using quiver::core::VectorTextStatus;

namespace {

struct Parsed {
	VectorTextStatus status;
	std::vector<float> values;
	std::string token;
};

Parsed
Parse(const std::string &text, int max_dim = kVectorMaxDim)
{
	std::vector<float> buf(static_cast<std::size_t>(max_dim) + 1);
	auto r = ParseVectorText(text.c_str(), buf.data(), max_dim);
	Parsed p{r.status, {}, {}};
	if (r.status == VectorTextStatus::Ok)
		p.values.assign(buf.begin(), buf.begin() + r.dim);
	if (r.status == VectorTextStatus::OutOfRange)
		p.token = text.substr(r.token_begin, r.token_len);
	return p;
}

std::string
Format(const std::vector<float> &v)
{
	std::string out(quiver::core::VectorTextCapacity(static_cast<int>(v.size())), '\0');
	std::size_t n = quiver::core::FormatVectorText(v.data(), static_cast<int>(v.size()), out.data());
	EXPECT_EQ(out[n], '\0');
	out.resize(n);
	return out;
}

TEST(VectorText, ParsesWellFormedInput)
{
	EXPECT_EQ(Parse("[1,2,3]").values, (std::vector<float>{1, 2, 3}));
	EXPECT_EQ(Parse(" [ 1,  2 ,    3  ] ").values, (std::vector<float>{1, 2, 3}));
	EXPECT_EQ(Parse("[1.,2.,3.]").values, (std::vector<float>{1, 2, 3}));
	EXPECT_EQ(Parse("\t[-1.5e3]\n").values, (std::vector<float>{-1500}));
	EXPECT_EQ(Parse("[1e-46,1]").values, (std::vector<float>{0, 1}));
}

TEST(VectorText, ReportsEachMalformationLikePgvector)
{
	EXPECT_EQ(Parse("1,2,3").status, VectorTextStatus::MissingOpenBracket);
	EXPECT_EQ(Parse("").status, VectorTextStatus::MissingOpenBracket);
	EXPECT_EQ(Parse("[]").status, VectorTextStatus::NoDimensions);
	EXPECT_EQ(Parse("[ ]").status, VectorTextStatus::NoDimensions);
	for (const char *bad : {"[", "[ ", "[,", "[,]", "[1,]", "[1a]", "[1,,3]", "[1, ,3]", "[1,2,3", "[hello,1]"})
		EXPECT_EQ(Parse(bad).status, VectorTextStatus::Syntax) << bad;
	EXPECT_EQ(Parse("[1,2,3]9").status, VectorTextStatus::JunkAfterBracket);
	EXPECT_EQ(Parse("[NaN,1]").status, VectorTextStatus::NaNValue);
	EXPECT_EQ(Parse("[Infinity,1]").status, VectorTextStatus::InfiniteValue);
	EXPECT_EQ(Parse("[-inf]").status, VectorTextStatus::InfiniteValue);
	auto big = Parse("[1, 4e38 ,1]");
	EXPECT_EQ(big.status, VectorTextStatus::OutOfRange);
	EXPECT_EQ(big.token, "4e38");
	EXPECT_EQ(Parse("[-4e38]").token, "-4e38");
}

TEST(VectorText, EnforcesDimensionLimit)
{
	EXPECT_EQ(Parse("[1,2,3]", 2).status, VectorTextStatus::TooManyDimensions);
	EXPECT_EQ(Parse("[1,2]", 2).status, VectorTextStatus::Ok);
	std::string many = "[";
	for (int i = 0; i <= kVectorMaxDim; i++)
		many += i ? ",0" : "0";
	many += "]";
	EXPECT_EQ(Parse(many).status, VectorTextStatus::TooManyDimensions);
}

TEST(VectorText, FormatsShortestAndRoundTrips)
{
	EXPECT_EQ(Format({1, 2.5f, 3}), "[1,2.5,3]");
	EXPECT_EQ(Format({1.5e38f, -1.5e38f}), "[1.5e+38,-1.5e+38]");
	EXPECT_EQ(Format({-0.0f, 1}), "[-0,1]");
	std::vector<float> v{0.1f, -7.25f, 3.4028235e38f, 1e-45f, 123456.0f, 1e6f};
	auto back = Parse(Format(v));
	ASSERT_EQ(back.status, VectorTextStatus::Ok);
	EXPECT_EQ(back.values, v);
}

} // namespace
