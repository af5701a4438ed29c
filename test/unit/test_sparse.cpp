// sparsevec codecs, merge kernels and ordering, against dense references.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/sparse.hpp"

namespace quiver::core {
namespace {

struct Sparse {
	int dim = 0;
	std::vector<std::int32_t> indices;
	std::vector<float> values;

	SparseView
	View() const
	{
		return SparseView{dim, static_cast<int>(indices.size()), indices.data(), values.data()};
	}
	std::vector<float>
	Dense() const
	{
		std::vector<float> d(static_cast<std::size_t>(dim), 0.0f);
		for (std::size_t i = 0; i < indices.size(); i++)
			d[static_cast<std::size_t>(indices[i])] = values[i];
		return d;
	}
};

Sparse
Random(std::mt19937 &rng, int dim, double density)
{
	Sparse s;
	s.dim = dim;
	std::bernoulli_distribution keep(density);
	std::uniform_real_distribution<float> value(-2.0f, 2.0f);
	for (int i = 0; i < dim; i++) {
		if (!keep(rng))
			continue;
		float v = value(rng);
		if (v == 0)
			continue;
		s.indices.push_back(i);
		s.values.push_back(v);
	}
	return s;
}

struct Parsed {
	SparseTextStatus status;
	Sparse v;
	std::string token;
};

Parsed
Parse(const std::string &text)
{
	std::size_t cap = SparseTextMaxEntries(text.c_str());
	std::vector<std::int32_t> idx(cap);
	std::vector<float> val(cap);
	auto r = ParseSparseText(text.c_str(), idx.data(), val.data());
	Parsed p{r.status, {}, {}};
	if (r.status == SparseTextStatus::Ok) {
		p.v.dim = r.dim;
		p.v.indices.assign(idx.begin(), idx.begin() + r.nnz);
		p.v.values.assign(val.begin(), val.begin() + r.nnz);
	}
	if (r.status == SparseTextStatus::OutOfRange)
		p.token = text.substr(r.token_begin, r.token_len);
	return p;
}

std::string
Format(const Sparse &s)
{
	std::string out(SparseTextCapacity(static_cast<int>(s.indices.size())), '\0');
	std::size_t n = FormatSparseText(s.View(), out.data());
	EXPECT_EQ(out[n], '\0');
	out.resize(n);
	return out;
}

TEST(SparseText, ParsesAndDropsZeros)
{
	Parsed p = Parse(" { 1 : 1.5 ,  3  :  3.5  } / 5 ");
	ASSERT_EQ(p.status, SparseTextStatus::Ok);
	EXPECT_EQ(p.v.dim, 5);
	EXPECT_EQ(p.v.indices, (std::vector<std::int32_t>{0, 2}));
	EXPECT_EQ(p.v.values, (std::vector<float>{1.5f, 3.5f}));

	p = Parse("{1:0,2:1,3:0}/3");
	ASSERT_EQ(p.status, SparseTextStatus::Ok);
	EXPECT_EQ(p.v.indices, (std::vector<std::int32_t>{1}));

	p = Parse("{}/1");
	ASSERT_EQ(p.status, SparseTextStatus::Ok);
	EXPECT_EQ(p.v.dim, 1);
	EXPECT_TRUE(p.v.indices.empty());
}

TEST(SparseText, ReportsEachMalformationLikePgvector)
{
	EXPECT_EQ(Parse("").status, SparseTextStatus::MissingOpenBrace);
	for (const char *bad : {"{", "{ ", "{:", "{,", "{:}/1", "{,}/1", "{1,}/1", "{:1}/1", "{1:}/1", "{1a:1}/1",
	                        "{1:1a}/1", "{1:1,}/1", "{1:hello,2:1}/2", "{}/"})
		EXPECT_EQ(Parse(bad).status, SparseTextStatus::Syntax) << bad;
	EXPECT_EQ(Parse("{}").status, SparseTextStatus::UnexpectedEnd);
	EXPECT_EQ(Parse("{}/1a").status, SparseTextStatus::JunkAfterClosing);
	EXPECT_EQ(Parse("{1:NaN}/1").status, SparseTextStatus::NaNValue);
	EXPECT_EQ(Parse("{1:-Infinity}/1").status, SparseTextStatus::InfiniteValue);
	Parsed p = Parse("{1:-4e38,2:1}/2");
	EXPECT_EQ(p.status, SparseTextStatus::OutOfRange);
	EXPECT_EQ(p.token, "-4e38");
	p = Parse("{1:1e-46,2:1}/2");
	EXPECT_EQ(p.status, SparseTextStatus::OutOfRange);
	EXPECT_EQ(p.token, "1e-46");
}

TEST(SparseText, CountsPossibleEntriesBeforeParsing)
{
	std::string many = "{";
	for (int i = 0; i < kSparseMaxNnz; i++)
		many += ",";
	EXPECT_EQ(Parse(many).status, SparseTextStatus::TooManyElements);
}

TEST(SparseText, ClampsHugeNumbersToOutOfRange)
{
	Parsed p = Parse("{}/9223372036854775808");
	ASSERT_EQ(p.status, SparseTextStatus::Ok);
	EXPECT_EQ(p.v.dim, INT32_MAX);
	p = Parse("{}/-9223372036854775809");
	ASSERT_EQ(p.status, SparseTextStatus::Ok);
	EXPECT_EQ(p.v.dim, INT32_MIN);
	p = Parse("{-2147483649:1}/1");
	ASSERT_EQ(p.status, SparseTextStatus::Ok);
	EXPECT_LT(p.v.indices[0], 0);
	p = Parse("{2147483648:1}/1");
	ASSERT_EQ(p.status, SparseTextStatus::Ok);
	EXPECT_GE(p.v.indices[0], 1);
}

TEST(SparseText, SortsAndChecksIndices)
{
	std::vector<std::int32_t> idx{1, 0};
	std::vector<float> val{2, 1};
	EXPECT_EQ(SortSparseEntries(idx.data(), val.data(), 2, 2), SparseIndexStatus::Ok);
	EXPECT_EQ(idx, (std::vector<std::int32_t>{0, 1}));
	EXPECT_EQ(val, (std::vector<float>{1, 2}));

	idx = {0, 1, 0};
	val = {1, 1, 1};
	EXPECT_EQ(SortSparseEntries(idx.data(), val.data(), 3, 2), SparseIndexStatus::Duplicate);
	idx = {1};
	EXPECT_EQ(SortSparseEntries(idx.data(), val.data(), 1, 1), SparseIndexStatus::OutOfBounds);
	idx = {-1};
	EXPECT_EQ(SortSparseEntries(idx.data(), val.data(), 1, 1), SparseIndexStatus::OutOfBounds);
}

TEST(SparseText, RoundTrips)
{
	std::mt19937 rng(7);
	for (int round = 0; round < 200; round++) {
		Sparse s = Random(rng, 1 + static_cast<int>(rng() % 300), 0.1);
		Parsed p = Parse(Format(s));
		ASSERT_EQ(p.status, SparseTextStatus::Ok);
		EXPECT_EQ(p.v.dim, s.dim);
		EXPECT_EQ(p.v.indices, s.indices);
		EXPECT_EQ(p.v.values, s.values);
	}
	Sparse s;
	s.dim = 1000000000;
	s.indices = {999999999};
	s.values = {-1.5e-38f};
	EXPECT_EQ(Format(s), "{1000000000:-1.5e-38}/1000000000");
}

std::vector<std::uint8_t>
Binary(const Sparse &s)
{
	std::vector<std::uint8_t> out(SparseBinarySize(static_cast<int>(s.indices.size())));
	WriteSparseBinary(s.View(), out.data());
	return out;
}

SparseBinaryStatus
ParseBody(const std::vector<std::uint8_t> &bytes, Sparse *out)
{
	SparseBinaryHeader h{};
	if (!ReadSparseBinaryHeader(bytes.data(), bytes.size(), &h))
		return SparseBinaryStatus::Truncated;
	out->dim = h.dim;
	out->indices.assign(static_cast<std::size_t>(h.nnz), 0);
	out->values.assign(static_cast<std::size_t>(h.nnz), 0.0f);
	std::size_t consumed = 0;
	auto st = ParseSparseBinaryBody(bytes.data() + kSparseBinaryHeaderSize, bytes.size() - kSparseBinaryHeaderSize,
	                                h.dim, h.nnz, out->indices.data(), out->values.data(), &consumed);
	if (st == SparseBinaryStatus::Ok) {
		EXPECT_EQ(consumed + kSparseBinaryHeaderSize, bytes.size());
	}
	return st;
}

TEST(SparseBinary, RoundTripsAndUsesPgvectorLayout)
{
	Sparse s;
	s.dim = 5;
	s.indices = {0, 2};
	s.values = {1.5f, -2.0f};
	auto bytes = Binary(s);
	ASSERT_EQ(bytes.size(), 28u);
	EXPECT_EQ(bytes[3], 5);     // dim, big-endian
	EXPECT_EQ(bytes[7], 2);     // nnz
	EXPECT_EQ(bytes[11], 0);    // unused
	EXPECT_EQ(bytes[19], 2);    // second index, 0-based
	EXPECT_EQ(bytes[20], 0x3f); // 1.5f = 0x3fc00000
	Sparse back;
	ASSERT_EQ(ParseBody(bytes, &back), SparseBinaryStatus::Ok);
	EXPECT_EQ(back.indices, s.indices);
	EXPECT_EQ(back.values, s.values);
}

TEST(SparseBinary, RejectsBadBodies)
{
	Sparse s;
	s.dim = 5;
	s.indices = {0, 2};
	s.values = {1.5f, -2.0f};
	Sparse back;
	auto bytes = Binary(s);
	bytes.pop_back();
	EXPECT_EQ(ParseBody(bytes, &back), SparseBinaryStatus::Truncated);

	auto with = [&](std::vector<std::int32_t> idx, std::vector<float> val) {
		Sparse t = s;
		t.indices = idx;
		t.values = val;
		return ParseBody(Binary(t), &back);
	};
	EXPECT_EQ(with({2, 0}, {1, 1}), SparseBinaryStatus::IndicesNotAscending);
	EXPECT_EQ(with({2, 2}, {1, 1}), SparseBinaryStatus::DuplicateIndex);
	EXPECT_EQ(with({0, 5}, {1, 1}), SparseBinaryStatus::IndexOutOfBounds);
	EXPECT_EQ(with({-1, 2}, {1, 1}), SparseBinaryStatus::IndexOutOfBounds);
	EXPECT_EQ(with({0, 2}, {1, 0}), SparseBinaryStatus::ZeroValue);
	EXPECT_EQ(with({0, 2}, {NAN, 1}), SparseBinaryStatus::NaNValue);
	EXPECT_EQ(with({0, 2}, {1, -INFINITY}), SparseBinaryStatus::InfiniteValue);
}

TEST(SparseKernels, MatchDenseReferences)
{
	std::mt19937 rng(11);
	for (int round = 0; round < 500; round++) {
		int dim = 1 + static_cast<int>(rng() % 200);
		double density = (round % 5 + 1) * 0.1;
		Sparse a = Random(rng, dim, density), b = Random(rng, dim, round % 7 == 0 ? 0.0 : density);
		auto da = a.Dense(), db = b.Dense();
		double dot = 0, l2 = 0, l1 = 0, na = 0;
		for (int i = 0; i < dim; i++) {
			dot += static_cast<double>(da[i]) * db[i];
			double d = static_cast<double>(da[i]) - db[i];
			l2 += d * d;
			l1 += std::fabs(d);
			na += static_cast<double>(da[i]) * da[i];
		}
		EXPECT_NEAR(SparseInnerProduct(a.View(), b.View()), dot, 1e-4 * (1 + std::fabs(dot)));
		EXPECT_NEAR(SparseInnerProduct(b.View(), a.View()), dot, 1e-4 * (1 + std::fabs(dot)));
		EXPECT_NEAR(SparseL2Squared(a.View(), b.View()), l2, 1e-4 * (1 + l2));
		EXPECT_NEAR(SparseL2Squared(b.View(), a.View()), l2, 1e-4 * (1 + l2));
		EXPECT_NEAR(SparseL1(a.View(), b.View()), l1, 1e-4 * (1 + l1));
		EXPECT_NEAR(SparseNormSquared(a.View()), na, 1e-4 * (1 + na));
		EXPECT_NEAR(SparseNormSquaredDouble(a.View()), na, 1e-9 * (1 + na));
	}
}

TEST(SparseKernels, AccumulateInFloatLikePgvector)
{
	Sparse a;
	a.dim = 1;
	a.indices = {0};
	a.values = {3e38f};
	EXPECT_TRUE(std::isinf(SparseInnerProduct(a.View(), a.View())));
	Sparse b = a;
	b.values = {-3e38f};
	EXPECT_TRUE(std::isinf(SparseL1(a.View(), b.View())));
}

int
DenseCompare(const std::vector<float> &a, const std::vector<float> &b)
{
	std::size_t n = std::min(a.size(), b.size());
	for (std::size_t i = 0; i < n; i++) {
		if (a[i] < b[i])
			return -1;
		if (a[i] > b[i])
			return 1;
	}
	return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

TEST(SparseCompare, EqualsDenseLexicographicOrder)
{
	std::mt19937 rng(3);
	for (int round = 0; round < 2000; round++) {
		// Small dims and few values so that equal prefixes and ties are common.
		Sparse a = Random(rng, 1 + static_cast<int>(rng() % 4), 0.5);
		Sparse b = Random(rng, 1 + static_cast<int>(rng() % 4), 0.5);
		for (auto *s : {&a, &b})
			for (float &v : s->values)
				v = v < 0 ? -1.0f : 1.0f;
		EXPECT_EQ(SparseCompare(a.View(), b.View()), DenseCompare(a.Dense(), b.Dense()))
		    << Format(a) << " vs " << Format(b);
	}
}

} // namespace
} // namespace quiver::core
