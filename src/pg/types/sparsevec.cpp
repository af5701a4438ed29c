// The `sparsevec` type: pgvector's formats, names, casts, distances and messages. Parsing,
// formatting and the merge kernels live in the core (quiver/sparse.hpp); this file maps their
// statuses to pgvector's errors, in pgvector's order of checks.
// Core headers first: they must not follow PostgreSQL's (core_only.hpp).
#include "quiver/sparse.hpp"
#include "vector_impl.hpp"
#include "sparsevec.hpp"

using namespace quiver::pg;
namespace core = quiver::core;

namespace quiver::pg {

SparseVector *
InitSparseVector(int dim, int nnz)
{
	std::size_t size = SparseVectorSize(nnz);
	auto *result = static_cast<SparseVector *>(palloc0(size));
	SET_VARSIZE(result, size);
	result->dim = dim;
	result->nnz = nnz;
	return result;
}

} // namespace quiver::pg

namespace {

void
CheckSparseDim(int dim)
{
	if (dim < 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec must have at least 1 dimension")));
	if (dim > core::kSparseMaxDim)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("sparsevec cannot have more than %d dimensions", core::kSparseMaxDim)));
}

void
ReportTooManyNnz()
{
	ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
	                errmsg("sparsevec cannot have more than %d non-zero elements", core::kSparseMaxNnz)));
}

void
CheckNnz(int nnz, int dim)
{
	if (nnz < 0)
		ereport(ERROR,
		        (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec cannot have negative number of elements")));
	if (nnz > core::kSparseMaxNnz)
		ReportTooManyNnz();
	if (nnz > dim)
		ereport(ERROR,
		        (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("sparsevec cannot have more elements than dimensions")));
}

void
ReportIndexStatus(core::SparseIndexStatus s)
{
	switch (s) {
	case core::SparseIndexStatus::Ok:
		return;
	case core::SparseIndexStatus::OutOfBounds:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec index out of bounds")));
		break;
	case core::SparseIndexStatus::NotAscending:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec indices must be in ascending order")));
		break;
	case core::SparseIndexStatus::Duplicate:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec indices must not contain duplicates")));
		break;
	}
}

void
CheckSameSparseDims(const SparseVector *a, const SparseVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
		                errmsg("different sparsevec dimensions %d and %d", a->dim, b->dim)));
}

// Both arguments, detoasted and checked for equal dimensions.
struct Pair {
	SparseVector *a;
	SparseVector *b;
};

Pair
Args(FunctionCallInfo fcinfo)
{
	Pair p{PG_GETARG_SPARSEVEC_P(0), PG_GETARG_SPARSEVEC_P(1)};
	CheckSameSparseDims(p.a, p.b);
	return p;
}

// From a dense type E: zeros dropped (NaN and infinity cannot occur in E's values).
template <class E>
Datum
FromDense(FunctionCallInfo fcinfo)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	CheckSparseDim(v->dim);
	CheckExpectedDim(PG_GETARG_INT32(1), v->dim);
	int nnz = 0;
	for (int i = 0; i < v->dim; i++)
		nnz += impl::At<E>(v, i) != 0.0f;
	CheckNnz(nnz, v->dim);
	SparseVector *result = InitSparseVector(v->dim, nnz);
	int32 *idx = SparseIndices(result);
	float *val = SparseValues(result);
	int j = 0;
	for (int i = 0; i < v->dim; i++) {
		float x = impl::At<E>(v, i);
		if (x != 0.0f) {
			idx[j] = i;
			val[j] = x;
			j++;
		}
	}
	PG_RETURN_POINTER(result);
}

template <class E>
Datum
ToDense(FunctionCallInfo fcinfo)
{
	SparseVector *s = PG_GETARG_SPARSEVEC_P(0);
	CheckDim(s->dim, E::kName);
	CheckExpectedDim(PG_GETARG_INT32(1), s->dim);
	Vector *result = impl::Init<E>(s->dim);
	auto *x = E::Values(result);
	const int32 *idx = SparseIndices(s);
	const float *val = SparseValues(s);
	for (int i = 0; i < s->nnz; i++)
		x[idx[i]] = E::NarrowChecked(val[i]);
	PG_RETURN_POINTER(result);
}

} // namespace

/* ---------- I/O ---------- */

QUIVER_FUNCTION(sparsevec_in)
{
	char *lit = PG_GETARG_CSTRING(0);
	int32 typmod = PG_GETARG_INT32(2);

	std::size_t cap = core::SparseTextMaxEntries(lit);
	if (cap > static_cast<std::size_t>(core::kSparseMaxNnz))
		ReportTooManyNnz();
	auto *indices = static_cast<int32 *>(palloc(sizeof(int32) * cap));
	auto *values = static_cast<float *>(palloc(sizeof(float) * cap));

	auto r = core::ParseSparseText(lit, indices, values);
	switch (r.status) {
	case core::SparseTextStatus::Ok:
		break;
	case core::SparseTextStatus::TooManyElements:
		ReportTooManyNnz();
		break;
	case core::SparseTextStatus::MissingOpenBrace:
		impl::ReportInvalidText("sparsevec", lit, "Vector contents must start with \"{\".");
	case core::SparseTextStatus::Syntax:
		impl::ReportInvalidText("sparsevec", lit, nullptr);
	case core::SparseTextStatus::UnexpectedEnd:
		impl::ReportInvalidText("sparsevec", lit, "Unexpected end of input.");
	case core::SparseTextStatus::JunkAfterClosing:
		impl::ReportInvalidText("sparsevec", lit, "Junk after closing.");
	case core::SparseTextStatus::OutOfRange:
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
		                errmsg("\"%s\" is out of range for type sparsevec", pnstrdup(lit + r.token_begin, r.token_len))));
		break;
	case core::SparseTextStatus::NaNValue:
		CheckElement(NAN, "sparsevec");
		break;
	case core::SparseTextStatus::InfiniteValue:
		CheckElement(INFINITY, "sparsevec");
		break;
	}

	CheckSparseDim(r.dim);
	CheckExpectedDim(typmod, r.dim);
	ReportIndexStatus(core::SortSparseEntries(indices, values, r.nnz, r.dim));

	SparseVector *result = InitSparseVector(r.dim, r.nnz);
	std::memcpy(SparseIndices(result), indices, sizeof(int32) * static_cast<std::size_t>(r.nnz));
	std::memcpy(SparseValues(result), values, sizeof(float) * static_cast<std::size_t>(r.nnz));
	pfree(indices);
	pfree(values);
	PG_RETURN_POINTER(result);
}

QUIVER_FUNCTION(sparsevec_out)
{
	SparseVector *s = PG_GETARG_SPARSEVEC_P(0);
	auto *buf = static_cast<char *>(palloc(core::SparseTextCapacity(s->nnz)));
	core::FormatSparseText(ViewOf(s), buf);
	PG_FREE_IF_COPY(s, 0);
	PG_RETURN_CSTRING(buf);
}

QUIVER_FUNCTION(sparsevec_typmod_in) { return impl::DimensionTypmodIn(fcinfo, "sparsevec", core::kSparseMaxDim); }

QUIVER_FUNCTION(sparsevec_recv)
{
	StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
	int32 typmod = PG_GETARG_INT32(2);
	const auto *data = reinterpret_cast<const std::uint8_t *>(buf->data + buf->cursor);
	std::size_t len = static_cast<std::size_t>(buf->len - buf->cursor);

	core::SparseBinaryHeader h{};
	if (!core::ReadSparseBinaryHeader(data, len, &h))
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
	CheckSparseDim(h.dim);
	CheckNnz(h.nnz, h.dim);
	CheckExpectedDim(typmod, h.dim);
	if (h.unused != 0)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected unused to be 0, not %d", h.unused)));

	SparseVector *result = InitSparseVector(h.dim, h.nnz);
	std::size_t consumed = 0;
	auto st = core::ParseSparseBinaryBody(data + core::kSparseBinaryHeaderSize, len - core::kSparseBinaryHeaderSize,
	                                      h.dim, h.nnz, SparseIndices(result), SparseValues(result), &consumed);
	switch (st) {
	case core::SparseBinaryStatus::Ok:
		break;
	case core::SparseBinaryStatus::Truncated:
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
		break;
	case core::SparseBinaryStatus::IndexOutOfBounds:
		ReportIndexStatus(core::SparseIndexStatus::OutOfBounds);
		break;
	case core::SparseBinaryStatus::IndicesNotAscending:
		ReportIndexStatus(core::SparseIndexStatus::NotAscending);
		break;
	case core::SparseBinaryStatus::DuplicateIndex:
		ReportIndexStatus(core::SparseIndexStatus::Duplicate);
		break;
	case core::SparseBinaryStatus::NaNValue:
		CheckElement(NAN, "sparsevec");
		break;
	case core::SparseBinaryStatus::InfiniteValue:
		CheckElement(INFINITY, "sparsevec");
		break;
	case core::SparseBinaryStatus::ZeroValue:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
		                errmsg("binary representation of sparsevec cannot contain zero values")));
		break;
	}
	buf->cursor += static_cast<int>(core::kSparseBinaryHeaderSize + consumed);
	PG_RETURN_POINTER(result);
}

QUIVER_FUNCTION(sparsevec_send)
{
	SparseVector *s = PG_GETARG_SPARSEVEC_P(0);
	std::size_t payload = core::SparseBinarySize(s->nnz);
	auto *result = static_cast<bytea *>(palloc(VARHDRSZ + payload));
	SET_VARSIZE(result, VARHDRSZ + payload);
	core::WriteSparseBinary(ViewOf(s), reinterpret_cast<std::uint8_t *>(VARDATA(result)));
	PG_RETURN_BYTEA_P(result);
}

/* ---------- casts ---------- */

QUIVER_FUNCTION(sparsevec)
{
	SparseVector *s = PG_GETARG_SPARSEVEC_P(0);
	CheckExpectedDim(PG_GETARG_INT32(1), s->dim);
	PG_RETURN_POINTER(s);
}

QUIVER_FUNCTION(vector_to_sparsevec) { return FromDense<F32Elements>(fcinfo); }
QUIVER_FUNCTION(halfvec_to_sparsevec) { return FromDense<F16Elements>(fcinfo); }
QUIVER_FUNCTION(sparsevec_to_vector) { return ToDense<F32Elements>(fcinfo); }
QUIVER_FUNCTION(sparsevec_to_halfvec) { return ToDense<F16Elements>(fcinfo); }

QUIVER_FUNCTION(array_to_sparsevec)
{
	impl::ArrayElements a = impl::DeconstructArray(PG_GETARG_ARRAYTYPE_P(0));
	CheckSparseDim(a.count);
	CheckExpectedDim(PG_GETARG_INT32(1), a.count);
	float *floats = impl::ArrayElementsToFloats(a);
	int nelems = a.count;

	int nnz = 0;
	for (int i = 0; i < nelems; i++)
		nnz += floats[i] != 0.0f; // NaN counts as non-zero, and is reported below
	CheckNnz(nnz, nelems);
	SparseVector *result = InitSparseVector(nelems, nnz);
	int32 *idx = SparseIndices(result);
	float *val = SparseValues(result);
	int j = 0;
	for (int i = 0; i < nelems; i++) {
		if (floats[i] != 0.0f) {
			idx[j] = i;
			val[j] = floats[i];
			j++;
		}
	}
	pfree(floats);
	for (int i = 0; i < nnz; i++)
		CheckElement(val[i], "sparsevec");
	PG_RETURN_POINTER(result);
}

/* ---------- distances and norms ---------- */

QUIVER_FUNCTION(sparsevec_l2_distance)
{
	Pair p = Args(fcinfo);
	PG_RETURN_FLOAT8(std::sqrt(static_cast<double>(core::SparseL2Squared(ViewOf(p.a), ViewOf(p.b)))));
}

QUIVER_FUNCTION(sparsevec_l2_squared_distance)
{
	Pair p = Args(fcinfo);
	PG_RETURN_FLOAT8(static_cast<double>(core::SparseL2Squared(ViewOf(p.a), ViewOf(p.b))));
}

QUIVER_FUNCTION(sparsevec_inner_product)
{
	Pair p = Args(fcinfo);
	PG_RETURN_FLOAT8(static_cast<double>(core::SparseInnerProduct(ViewOf(p.a), ViewOf(p.b))));
}

QUIVER_FUNCTION(sparsevec_negative_inner_product)
{
	Pair p = Args(fcinfo);
	PG_RETURN_FLOAT8(-static_cast<double>(core::SparseInnerProduct(ViewOf(p.a), ViewOf(p.b))));
}

// 1 - cosine similarity clamped to [-1, 1]; NaN when either vector is zero or a norm overflows
// (as pgvector: norms are summed in float).
QUIVER_FUNCTION(sparsevec_cosine_distance)
{
	Pair p = Args(fcinfo);
	double similarity = static_cast<double>(core::SparseInnerProduct(ViewOf(p.a), ViewOf(p.b)));
	double na = static_cast<double>(core::SparseNormSquared(ViewOf(p.a)));
	double nb = static_cast<double>(core::SparseNormSquared(ViewOf(p.b)));
	similarity /= std::sqrt(na * nb);
	if (similarity > 1)
		similarity = 1.0;
	else if (similarity < -1)
		similarity = -1.0;
	PG_RETURN_FLOAT8(1.0 - similarity);
}

QUIVER_FUNCTION(sparsevec_l1_distance)
{
	Pair p = Args(fcinfo);
	PG_RETURN_FLOAT8(static_cast<double>(core::SparseL1(ViewOf(p.a), ViewOf(p.b))));
}

QUIVER_FUNCTION(sparsevec_l2_norm)
{
	SparseVector *s = PG_GETARG_SPARSEVEC_P(0);
	PG_RETURN_FLOAT8(std::sqrt(core::SparseNormSquaredDouble(ViewOf(s))));
}

// Divides by the norm in double; entries that underflow to zero are dropped, since a
// sparsevec never stores zeros.
QUIVER_FUNCTION(sparsevec_l2_normalize)
{
	SparseVector *s = PG_GETARG_SPARSEVEC_P(0);
	double norm = std::sqrt(core::SparseNormSquaredDouble(ViewOf(s)));
	if (norm == 0) {
		SparseVector *zero = InitSparseVector(s->dim, 0);
		PG_RETURN_POINTER(zero);
	}
	const int32 *idx = SparseIndices(s);
	const float *val = SparseValues(s);
	auto *scaled = static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(s->nnz > 0 ? s->nnz : 1)));
	int nnz = 0;
	for (int i = 0; i < s->nnz; i++) {
		scaled[i] = static_cast<float>(static_cast<double>(val[i]) / norm);
		if (std::isinf(scaled[i]))
			float_overflow_error();
		nnz += scaled[i] != 0.0f;
	}
	SparseVector *result = InitSparseVector(s->dim, nnz);
	int32 *ridx = SparseIndices(result);
	float *rval = SparseValues(result);
	int j = 0;
	for (int i = 0; i < s->nnz; i++) {
		if (scaled[i] != 0.0f) {
			ridx[j] = idx[i];
			rval[j] = scaled[i];
			j++;
		}
	}
	pfree(scaled);
	PG_RETURN_POINTER(result);
}

/* ---------- comparisons (btree) ---------- */

namespace {

int
CompareSparseArgs(FunctionCallInfo fcinfo)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);
	return core::SparseCompare(ViewOf(a), ViewOf(b));
}

} // namespace

QUIVER_FUNCTION(sparsevec_lt) { PG_RETURN_BOOL(CompareSparseArgs(fcinfo) < 0); }
QUIVER_FUNCTION(sparsevec_le) { PG_RETURN_BOOL(CompareSparseArgs(fcinfo) <= 0); }
QUIVER_FUNCTION(sparsevec_eq) { PG_RETURN_BOOL(CompareSparseArgs(fcinfo) == 0); }
QUIVER_FUNCTION(sparsevec_ne) { PG_RETURN_BOOL(CompareSparseArgs(fcinfo) != 0); }
QUIVER_FUNCTION(sparsevec_ge) { PG_RETURN_BOOL(CompareSparseArgs(fcinfo) >= 0); }
QUIVER_FUNCTION(sparsevec_gt) { PG_RETURN_BOOL(CompareSparseArgs(fcinfo) > 0); }
QUIVER_FUNCTION(sparsevec_cmp) { PG_RETURN_INT32(CompareSparseArgs(fcinfo)); }
