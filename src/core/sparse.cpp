#include "quiver/sparse.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "quiver/float_format.hpp"
#include "quiver/vector_text.hpp"

namespace quiver::core {

namespace {

SparseTextResult
Fail(SparseTextStatus status)
{
	return SparseTextResult{status, 0, 0, 0, 0};
}

const char *
SkipSpace(const char *p)
{
	while (IsVectorSpace(*p))
		p++;
	return p;
}

// strtol clamped to the int range (pgvector clamps so that the later range checks, not an
// overflow, decide the message). false when no digits were read.
bool
ParseInt(const char *p, const char **end, long min, long *out)
{
	char *e = nullptr;
	errno = 0;
	long v = std::strtol(p, &e, 10);
	if (e == p)
		return false;
	*end = e;
	*out = std::clamp(v, min, static_cast<long>(INT_MAX));
	return true;
}

std::uint32_t
ReadU32(const std::uint8_t *p)
{
	return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
	       (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

void
WriteU32(std::uint32_t v, std::uint8_t *p)
{
	p[0] = static_cast<std::uint8_t>(v >> 24);
	p[1] = static_cast<std::uint8_t>(v >> 16);
	p[2] = static_cast<std::uint8_t>(v >> 8);
	p[3] = static_cast<std::uint8_t>(v);
}

std::size_t
FormatInt(long v, char *out)
{
	char tmp[24];
	std::size_t n = 0;
	bool negative = v < 0;
	unsigned long u = negative ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
	do {
		tmp[n++] = static_cast<char>('0' + u % 10);
		u /= 10;
	} while (u != 0);
	std::size_t len = 0;
	if (negative)
		out[len++] = '-';
	while (n > 0)
		out[len++] = tmp[--n];
	return len;
}

} // namespace

/* ---------- text ---------- */

std::size_t
SparseTextMaxEntries(const char *text) noexcept
{
	std::size_t n = 1;
	for (const char *p = text; *p != '\0'; p++)
		n += *p == ',';
	return n;
}

SparseTextResult
ParseSparseText(const char *text, std::int32_t *indices, float *values) noexcept
{
	if (SparseTextMaxEntries(text) > static_cast<std::size_t>(kSparseMaxNnz))
		return Fail(SparseTextStatus::TooManyElements);

	const char *p = SkipSpace(text);
	if (*p != '{')
		return Fail(SparseTextStatus::MissingOpenBrace);
	p = SkipSpace(p + 1);

	int nnz = 0;
	if (*p == '}') {
		p++;
	} else {
		for (;;) {
			p = SkipSpace(p);
			// strtol and strtof skip leading whitespace and accept an empty tail; reject first.
			if (*p == '\0')
				return Fail(SparseTextStatus::Syntax);
			long index = 0;
			const char *end = nullptr;
			// INT_MIN + 1 so that the 0-based index (index - 1) cannot overflow.
			if (!ParseInt(p, &end, static_cast<long>(INT_MIN) + 1, &index))
				return Fail(SparseTextStatus::Syntax);
			p = SkipSpace(end);
			if (*p != ':')
				return Fail(SparseTextStatus::Syntax);
			p = SkipSpace(p + 1);

			// strtof as float4in does: through double would round twice. LC_NUMERIC is C.
			char *vend = nullptr;
			errno = 0;
			float value = std::strtof(p, &vend);
			if (vend == p)
				return Fail(SparseTextStatus::Syntax);
			if (errno == ERANGE && (value == 0 || std::isinf(value)))
				return SparseTextResult{SparseTextStatus::OutOfRange, 0, 0, static_cast<std::size_t>(p - text),
				                        static_cast<std::size_t>(vend - p)};
			if (std::isnan(value))
				return Fail(SparseTextStatus::NaNValue);
			if (std::isinf(value))
				return Fail(SparseTextStatus::InfiniteValue);
			if (value != 0) {
				indices[nnz] = static_cast<std::int32_t>(index - 1);
				values[nnz] = value;
				nnz++;
			}

			p = SkipSpace(vend);
			if (*p == ',') {
				p++;
			} else if (*p == '}') {
				p++;
				break;
			} else {
				return Fail(SparseTextStatus::Syntax);
			}
		}
	}

	p = SkipSpace(p);
	if (*p != '/')
		return Fail(SparseTextStatus::UnexpectedEnd);
	p = SkipSpace(p + 1);
	long dim = 0;
	const char *end = nullptr;
	if (!ParseInt(p, &end, static_cast<long>(INT_MIN), &dim))
		return Fail(SparseTextStatus::Syntax);
	p = SkipSpace(end);
	if (*p != '\0')
		return Fail(SparseTextStatus::JunkAfterClosing);
	return SparseTextResult{SparseTextStatus::Ok, static_cast<int>(dim), nnz, 0, 0};
}

SparseIndexStatus
CheckSparseIndex(const std::int32_t *indices, int i, int dim) noexcept
{
	std::int32_t index = indices[i];
	if (index < 0 || index >= dim)
		return SparseIndexStatus::OutOfBounds;
	if (i > 0) {
		if (index < indices[i - 1])
			return SparseIndexStatus::NotAscending;
		if (index == indices[i - 1])
			return SparseIndexStatus::Duplicate;
	}
	return SparseIndexStatus::Ok;
}

SparseIndexStatus
SortSparseEntries(std::int32_t *indices, float *values, int nnz, int dim) noexcept
{
	bool sorted = true;
	for (int i = 1; i < nnz && sorted; i++)
		sorted = indices[i - 1] < indices[i];
	if (!sorted) {
		// Text input is usually in order already; sorting needs scratch space only otherwise,
		// and nnz is at most kSparseMaxNnz, so it lives on the stack.
		struct Entry {
			std::int32_t index;
			float value;
		};
		Entry entries[kSparseMaxNnz];
		for (int i = 0; i < nnz; i++)
			entries[i] = Entry{indices[i], values[i]};
		// Not stable_sort: it may allocate, and equal indices are an error whatever their order.
		std::sort(entries, entries + nnz, [](const Entry &x, const Entry &y) { return x.index < y.index; });
		for (int i = 0; i < nnz; i++) {
			indices[i] = entries[i].index;
			values[i] = entries[i].value;
		}
	}
	for (int i = 0; i < nnz; i++) {
		SparseIndexStatus s = CheckSparseIndex(indices, i, dim);
		if (s != SparseIndexStatus::Ok)
			return s;
	}
	return SparseIndexStatus::Ok;
}

std::size_t
SparseTextCapacity(int nnz) noexcept
{
	// Per entry: an index (11 bytes with sign), ':', a value, ','; then "{}/", the dimension
	// and the NUL.
	return static_cast<std::size_t>(nnz) * (13 + kFloatTextMax) + 16;
}

std::size_t
FormatSparseText(const SparseView &v, char *out) noexcept
{
	char *p = out;
	*p++ = '{';
	for (int i = 0; i < v.nnz; i++) {
		if (i > 0)
			*p++ = ',';
		p += FormatInt(static_cast<long>(v.indices[i]) + 1, p);
		*p++ = ':';
		p += FormatFloatShortest(v.values[i], p);
	}
	*p++ = '}';
	*p++ = '/';
	p += FormatInt(v.dim, p);
	*p = '\0';
	return static_cast<std::size_t>(p - out);
}

/* ---------- binary ---------- */

bool
ReadSparseBinaryHeader(const std::uint8_t *data, std::size_t len, SparseBinaryHeader *out) noexcept
{
	if (len < kSparseBinaryHeaderSize)
		return false;
	out->dim = static_cast<std::int32_t>(ReadU32(data));
	out->nnz = static_cast<std::int32_t>(ReadU32(data + 4));
	out->unused = static_cast<std::int32_t>(ReadU32(data + 8));
	return true;
}

SparseBinaryStatus
ParseSparseBinaryBody(const std::uint8_t *data, std::size_t len, int dim, int nnz, std::int32_t *indices,
                      float *values, std::size_t *consumed) noexcept
{
	std::size_t pos = 0;
	for (int i = 0; i < nnz; i++, pos += 4) {
		if (len - pos < 4)
			return SparseBinaryStatus::Truncated;
		indices[i] = static_cast<std::int32_t>(ReadU32(data + pos));
		switch (CheckSparseIndex(indices, i, dim)) {
		case SparseIndexStatus::Ok:
			break;
		case SparseIndexStatus::OutOfBounds:
			return SparseBinaryStatus::IndexOutOfBounds;
		case SparseIndexStatus::NotAscending:
			return SparseBinaryStatus::IndicesNotAscending;
		case SparseIndexStatus::Duplicate:
			return SparseBinaryStatus::DuplicateIndex;
		}
	}
	for (int i = 0; i < nnz; i++, pos += 4) {
		if (len - pos < 4)
			return SparseBinaryStatus::Truncated;
		std::uint32_t bits = ReadU32(data + pos);
		float v;
		std::memcpy(&v, &bits, sizeof v);
		if (std::isnan(v))
			return SparseBinaryStatus::NaNValue;
		if (std::isinf(v))
			return SparseBinaryStatus::InfiniteValue;
		if (v == 0)
			return SparseBinaryStatus::ZeroValue;
		values[i] = v;
	}
	*consumed = pos;
	return SparseBinaryStatus::Ok;
}

void
WriteSparseBinary(const SparseView &v, std::uint8_t *out) noexcept
{
	WriteU32(static_cast<std::uint32_t>(v.dim), out);
	WriteU32(static_cast<std::uint32_t>(v.nnz), out + 4);
	WriteU32(0, out + 8);
	std::uint8_t *p = out + kSparseBinaryHeaderSize;
	for (int i = 0; i < v.nnz; i++, p += 4)
		WriteU32(static_cast<std::uint32_t>(v.indices[i]), p);
	for (int i = 0; i < v.nnz; i++, p += 4) {
		std::uint32_t bits;
		std::memcpy(&bits, &v.values[i], sizeof bits);
		WriteU32(bits, p);
	}
}

/* ---------- distances ---------- */

// The merges advance both sides without branches on the comparison (i += a <= b; j += b <= a):
// the interleaving of two random index sets is unpredictable, and a mispredicted branch per
// step costs more than the arithmetic.

float
SparseInnerProduct(const SparseView &a, const SparseView &b) noexcept
{
	float sum = 0;
	int i = 0, j = 0;
	while (i < a.nnz && j < b.nnz) {
		std::int32_t x = a.indices[i], y = b.indices[j];
		if (x == y)
			sum += a.values[i] * b.values[j];
		i += x <= y;
		j += y <= x;
	}
	return sum;
}

namespace {

// Sums term(a_k - b_k) over the union of indices (a missing side is 0), in index order.
template <class Term>
float
MergeDifferences(const SparseView &a, const SparseView &b, Term term) noexcept
{
	float sum = 0;
	int i = 0, j = 0;
	while (i < a.nnz && j < b.nnz) {
		std::int32_t x = a.indices[i], y = b.indices[j];
		float va = x <= y ? a.values[i] : 0.0f;
		float vb = y <= x ? b.values[j] : 0.0f;
		sum += term(va - vb);
		i += x <= y;
		j += y <= x;
	}
	for (; i < a.nnz; i++)
		sum += term(a.values[i]);
	for (; j < b.nnz; j++)
		sum += term(b.values[j]);
	return sum;
}

} // namespace

float
SparseL2Squared(const SparseView &a, const SparseView &b) noexcept
{
	return MergeDifferences(a, b, [](float d) { return d * d; });
}

float
SparseL1(const SparseView &a, const SparseView &b) noexcept
{
	return MergeDifferences(a, b, [](float d) { return std::fabs(d); });
}

float
SparseNormSquared(const SparseView &a) noexcept
{
	float sum = 0;
	for (int i = 0; i < a.nnz; i++)
		sum += a.values[i] * a.values[i];
	return sum;
}

double
SparseNormSquaredDouble(const SparseView &a) noexcept
{
	double sum = 0;
	for (int i = 0; i < a.nnz; i++)
		sum += static_cast<double>(a.values[i]) * static_cast<double>(a.values[i]);
	return sum;
}

int
SparseCompare(const SparseView &a, const SparseView &b) noexcept
{
	// Walk the union of indices below the common dimension; the first position where the dense
	// forms differ decides. Values are never zero, so an index present on one side only differs.
	const std::int32_t common = std::min(a.dim, b.dim);
	int i = 0, j = 0;
	for (;;) {
		std::int32_t x = i < a.nnz ? a.indices[i] : INT32_MAX;
		std::int32_t y = j < b.nnz ? b.indices[j] : INT32_MAX;
		std::int32_t k = std::min(x, y);
		if (k >= common)
			break;
		float va = x == k ? a.values[i] : 0.0f;
		float vb = y == k ? b.values[j] : 0.0f;
		if (va < vb)
			return -1;
		if (va > vb)
			return 1;
		i += x == k;
		j += y == k;
	}
	if (a.dim != b.dim)
		return a.dim < b.dim ? -1 : 1;
	return 0;
}

} // namespace quiver::core
