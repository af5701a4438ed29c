// Reading an index column's type and metric, and the stored vectors of every indexed type.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "quiver/bits.hpp"
#include "quiver/half.hpp"
#include "quiver/kernels.hpp"
#include "values.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/varbit.h"
}

namespace quiver::pg {

namespace {

// The metric and the value format follow from the opclass's distance support function
// (pgvector's opclasses, unchanged): its name gives the metric, its argument type the format.
// The kernels are then called directly instead of through fmgr.
void
DescribeIndex(Relation index, const char *am_name, core::Metric *metric, int *value_size)
{
	Oid proc = index_getprocid(index, 1, kIndexDistanceProc);
	char *name = get_func_name(proc);
	if (name == nullptr)
		elog(ERROR, "%s: distance support function %u not found", am_name, proc);
	Oid *argtypes;
	int nargs;
	get_func_signature(proc, &argtypes, &nargs);
	HeapTuple tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(argtypes[0]));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "%s: cache lookup failed for type %u", am_name, argtypes[0]);
	NameData type = reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple))->typname;
	ReleaseSysCache(tuple);
	// A varbit column passes bit opclasses (binary coercible) but has no fixed length.
	if (TupleDescAttr(RelationGetDescr(index), 0)->atttypid != argtypes[0])
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("type not supported for %s index", am_name)));
	if (strcmp(NameStr(type), "vector") == 0)
		*value_size = 4;
	else if (strcmp(NameStr(type), "halfvec") == 0)
		*value_size = 2;
	else if (strcmp(NameStr(type), "bit") == 0)
		*value_size = 0;
	else if (strcmp(NameStr(type), "sparsevec") == 0)
		*value_size = kSparseValueSize;
	else
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("%s does not support type %s", am_name, NameStr(type))));

	auto ends_with = [name](const char *suffix) {
		std::size_t n = strlen(name), k = strlen(suffix);
		return n >= k && strcmp(name + n - k, suffix) == 0;
	};
	bool has_norm = OidIsValid(index_getprocid(index, 1, kIndexNormProc));
	if (ends_with("l2_squared_distance"))
		*metric = core::Metric::L2;
	else if (ends_with("negative_inner_product"))
		*metric = has_norm ? core::Metric::Cosine : core::Metric::InnerProduct;
	else if (strcmp(name, "l1_distance") == 0)
		*metric = core::Metric::L1;
	else if (strcmp(name, "hamming_distance") == 0)
		*metric = core::Metric::Hamming;
	else if (strcmp(name, "jaccard_distance") == 0)
		*metric = core::Metric::Jaccard;
	else
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("%s does not support distance function %s", am_name, name)));
}

} // namespace

int
IndexMaxDims(const IndexValues *ctx)
{
	if (ctx->storage == IndexStorage::Half)
		return kIndexMaxHalfDim;
	if (ctx->storage == IndexStorage::Sq8)
		return kIndexMaxSq8Dim;
	if (ctx->storage == IndexStorage::Sq4)
		return kIndexMaxSq4Dim;
	switch (ctx->value_size) {
	case 2:
		return kIndexMaxHalfDim;
	case 0:
		return kIndexMaxBitDim;
	case kSparseValueSize:
		return core::kSparseMaxDim; // sparse: the non-zero count is what is limited
	default:
		return kIndexMaxDim;
	}
}

std::size_t
IndexStoredBytes(const IndexValues *ctx, const void *values)
{
	if (ctx->value_size == kSparseValueSize)
		return StoredSparseBytes(static_cast<const StoredSparse *>(values)->nnz);
	return ctx->vector_bytes;
}

namespace {

// Divides a stored sparse vector's values by its norm (summed in double), as l2_normalize()
// does; false for a zero vector, left as it is.
bool
NormalizeSparse(void *stored)
{
	core::SparseView v = StoredSparseView(stored);
	double norm = std::sqrt(core::SparseNormSquaredDouble(v));
	if (norm == 0)
		return false;
	auto *x = const_cast<float *>(v.values);
	for (int i = 0; i < v.nnz; i++)
		x[i] = static_cast<float>(x[i] / norm);
	return true;
}

// The max_sparse_nnz entries of largest magnitude of a stored sparse vector (ties to the lower
// index, so equal rows are cut alike) into out, in index order; returns an upper bound of the
// distance between the two, the dropped values' norm (L1 for L1, Euclidean otherwise), rounded
// up. A vector within the limit is copied, exactly.
float CutSparse(const IndexValues *ctx, const void *in, void *out);

// A sparsevec datum's stored form into out (room for StoredSparseBytes(nnz)).
void
SparseToStored(const SparseVector *v, void *out)
{
	auto *h = static_cast<StoredSparse *>(out);
	h->dim = v->dim;
	h->nnz = v->nnz;
	memcpy(h + 1, SparseIndices(v), (sizeof(int32) + sizeof(float)) * static_cast<std::size_t>(v->nnz));
}

} // namespace

void *
IndexQueryValues(const IndexValues *ctx, Datum datum)
{
	if (ctx->value_size != kSparseValueSize) {
		void *out = palloc0(ctx->vector_bytes);
		IndexDatumValues(ctx, datum, out);
		return out;
	}
	SparseVector *v = DatumGetSparseVector(datum);
	CheckExpectedDim(ctx->dims, v->dim);
	void *out = palloc(StoredSparseBytes(v->nnz));
	SparseToStored(v, out);
	// Stored rows are normalized before they are cut (IndexDatumValues); the query, never cut,
	// is normalized here, and IndexPrepareVector leaves both as they are.
	if (ctx->storage == IndexStorage::SparseTop && ctx->metric == core::Metric::Cosine)
		NormalizeSparse(out);
	return out;
}

namespace {

// Divides x by its norm (summed in double), as l2_normalize() does; false for a zero vector,
// left as it is.
bool
NormalizeFloats(float *x, std::size_t n)
{
	double norm = 0;
	for (std::size_t i = 0; i < n; i++)
		norm += static_cast<double>(x[i]) * x[i];
	if (norm == 0)
		return false;
	norm = std::sqrt(norm);
	for (std::size_t i = 0; i < n; i++)
		x[i] = static_cast<float>(x[i] / norm);
	return true;
}

// A float32 vector datum into quantized storage: normalized first for cosine (as
// IndexPrepareVector normalizes float32), then rounded to halves (clamped to the half range) or
// coded.
void
VectorToQuantized(const IndexValues *ctx, const Vector *v, void *out, float *rounding_error)
{
	std::size_t n = static_cast<std::size_t>(ctx->dims);
	auto *x = static_cast<float *>(palloc(sizeof(float) * n));
	memcpy(x, VectorValues(v), sizeof(float) * n);
	if (ctx->metric == core::Metric::Cosine)
		NormalizeFloats(x, n);
	if (ctx->storage == IndexStorage::Sq8 || ctx->storage == IndexStorage::Sq4) {
		core::CodedVectorEncode(CodeBits(ctx->value_size), x, n, out);
	} else {
		// Clamped in a copy: the error is measured against the vector itself.
		auto *clamped = static_cast<float *>(palloc(sizeof(float) * n));
		for (std::size_t i = 0; i < n; i++)
			clamped[i] = std::clamp(x[i], -core::kHalfMax, core::kHalfMax);
		core::FloatToHalfArray(clamped, static_cast<core::Half *>(out), n);
		pfree(clamped);
	}
	if (rounding_error != nullptr)
		*rounding_error = IndexQuantizationError(ctx, x, out);
	pfree(x);
}

// A non-negative double bound as a float bound: rounded up past the double's own rounding,
// infinity beyond the float range.
float
FloatBoundUp(double error)
{
	if (error * (1 + 1e-9) >= std::numeric_limits<float>::max())
		return std::numeric_limits<float>::infinity();
	return std::nextafter(static_cast<float>(error * (1 + 1e-9)), std::numeric_limits<float>::infinity());
}

} // namespace

namespace {

float
CutSparse(const IndexValues *ctx, const void *in, void *out)
{
	core::SparseView v = StoredSparseView(in);
	int keep = std::min(v.nnz, ctx->max_sparse_nnz);
	auto *order = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(Max(v.nnz, 1))));
	for (int i = 0; i < v.nnz; i++)
		order[i] = i;
	auto larger = [&v](int a, int b) {
		float x = std::fabs(v.values[a]), y = std::fabs(v.values[b]);
		return x != y ? x > y : a < b;
	};
	if (keep < v.nnz)
		std::nth_element(order, order + keep, order + v.nnz, larger);
	double dropped = 0;
	bool l1 = ctx->metric == core::Metric::L1;
	for (int i = keep; i < v.nnz; i++) {
		double x = v.values[order[i]];
		dropped += l1 ? std::fabs(x) : x * x;
	}
	std::sort(order, order + keep);
	auto *h = static_cast<StoredSparse *>(out);
	h->dim = v.dim;
	h->nnz = keep;
	auto *indices = reinterpret_cast<std::int32_t *>(h + 1);
	auto *values = reinterpret_cast<float *>(indices + keep);
	for (int i = 0; i < keep; i++) {
		indices[i] = v.indices[order[i]];
		values[i] = v.values[order[i]];
	}
	pfree(order);
	return dropped == 0 ? 0.0f : FloatBoundUp(l1 ? dropped : std::sqrt(dropped));
}

} // namespace

float
IndexQuantizationError(const IndexValues *ctx, const float *x, const void *stored)
{
	if (ctx->storage == IndexStorage::SparseTop)
		return 0; // queries are never cut
	bool l1 = ctx->metric == core::Metric::L1;
	if (ctx->storage == IndexStorage::Sq8 || ctx->storage == IndexStorage::Sq4)
		return FloatBoundUp(core::CodedVectorError(CodeBits(ctx->value_size), x, stored, static_cast<std::size_t>(ctx->dims), l1));
	const auto *halves = static_cast<const core::Half *>(stored);
	double sum = 0;
	float widened[256];
	for (int start = 0; start < ctx->dims; start += 256) {
		int count = std::min(256, ctx->dims - start);
		core::HalfToFloatArray(halves + start, widened, static_cast<std::size_t>(count));
		for (int i = 0; i < count; i++) {
			double d = static_cast<double>(x[start + i]) - static_cast<double>(widened[i]);
			sum += l1 ? std::fabs(d) : d * d;
		}
	}
	return FloatBoundUp(l1 ? sum : std::sqrt(sum));
}

void
IndexUseQuantizedStorage(IndexValues *v, IndexStorage storage)
{
	v->storage = storage;
	if (v->value_size == kSparseValueSize)
		return; // the same format, with max_sparse_nnz entries at most

	v->value_size = storage == IndexStorage::Sq8   ? kSq8ValueSize
	                : storage == IndexStorage::Sq4 ? kSq4ValueSize
	                : storage == IndexStorage::Half ? 2
	                                                : 4;
	v->vector_bytes = StoredVectorBytes(v->value_size, v->dims > 0 ? v->dims : 0);
}

IndexValues
IndexExactValues(const IndexValues *v)
{
	IndexValues exact = *v;
	if (v->storage == IndexStorage::SparseTop) {
		// Rows read from the table have all their non-zeros.
		exact.storage = IndexStorage::Exact;
		exact.max_sparse_nnz = core::kSparseMaxNnz;
		exact.vector_bytes = StoredSparseBytes(core::kSparseMaxNnz);
	} else if (IndexQuantized(v)) {
		IndexUseQuantizedStorage(&exact, IndexStorage::Exact);
	}
	return exact;
}

void
IndexDatumValues(const IndexValues *ctx, Datum datum, void *out, float *rounding_error)
{
	if (rounding_error != nullptr)
		*rounding_error = 0;
	if (ctx->storage == IndexStorage::Half || ctx->storage == IndexStorage::Sq8 || ctx->storage == IndexStorage::Sq4) {
		Vector *v = DatumGetVector(datum);
		CheckExpectedDim(ctx->dims, v->dim);
		VectorToQuantized(ctx, v, out, rounding_error);
		return;
	}
	if (ctx->value_size == 0) {
		VarBit *b = DatumGetVarBitP(datum);
		CheckExpectedDim(ctx->dims, VARBITLEN(b));
		memset(out, 0, ctx->vector_bytes);
		memcpy(out, VARBITS(b), VARBITBYTES(b));
		return;
	}
	if (ctx->value_size == kSparseValueSize) {
		SparseVector *sv = DatumGetSparseVector(datum);
		CheckExpectedDim(ctx->dims, sv->dim);
		if (ctx->storage == IndexStorage::SparseTop) {
			void *full = palloc(StoredSparseBytes(sv->nnz));
			SparseToStored(sv, full);
			if (ctx->metric == core::Metric::Cosine)
				NormalizeSparse(full);
			float error = CutSparse(ctx, full, out);
			if (rounding_error != nullptr)
				*rounding_error = error;
			pfree(full);
			return;
		}
		if (sv->nnz > ctx->max_sparse_nnz)
			ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			                errmsg("sparsevec cannot have more than %d non-zero elements for %s index",
			                       ctx->max_sparse_nnz, ctx->am_name)));
		SparseToStored(sv, out);
		return;
	}
	// vector and halfvec share the header (dimensions, then the values).
	Vector *v = DatumGetVector(datum);
	CheckExpectedDim(ctx->dims, v->dim);
	memcpy(out, VectorValues(v), ctx->vector_bytes);
}

void
IndexWidenVector(const IndexValues *ctx, const void *in, float *out)
{
	if (ctx->value_size == kSparseValueSize)
		memcpy(out, &in, sizeof in);
	else if (ctx->value_size == kSq8ValueSize || ctx->value_size == kSq4ValueSize)
		core::CodedVectorDecode(CodeBits(ctx->value_size), in, static_cast<std::size_t>(ctx->dims), out);
	else if (ctx->value_size == 2)
		core::HalfToFloatArray(static_cast<const core::Half *>(in), out, static_cast<std::size_t>(ctx->dims));
	else
		memcpy(out, in, ctx->vector_bytes); // float32, or bits in the floats' bytes
}

void
IndexNarrowVector(const IndexValues *ctx, const float *in, void *out)
{
	if (ctx->value_size == kSparseValueSize) {
		const void *packed;
		memcpy(&packed, in, sizeof packed);
		memcpy(out, packed, IndexStoredBytes(ctx, packed));
	} else if (ctx->value_size == kSq8ValueSize || ctx->value_size == kSq4ValueSize)
		core::CodedVectorEncode(CodeBits(ctx->value_size), in, static_cast<std::size_t>(ctx->dims), out);
	else if (ctx->value_size == 2)
		core::FloatToHalfArray(in, static_cast<core::Half *>(out), static_cast<std::size_t>(ctx->dims));
	else
		memcpy(out, in, ctx->vector_bytes);
}

bool
IndexPrepareVector(const IndexValues *ctx, void *values)
{
	if (ctx->metric != core::Metric::Cosine)
		return true;
	if (ctx->storage == IndexStorage::Sq8 || ctx->storage == IndexStorage::Sq4) {
		// Normalized before coding, as halves are; only the zero vector codes to range [0, 0].
		const auto *h = static_cast<const core::Sq8VectorHeader *>(values);
		return h->lower != 0 || h->step != 0;
	}
	if (ctx->storage == IndexStorage::Half) {
		// Normalized before rounding (IndexDatumValues): normalizing again would move the
		// vector away from the one its rounding error was measured against.
		const auto *h = static_cast<const core::Half *>(values);
		for (int i = 0; i < ctx->dims; i++)
			if ((h[i] & 0x7FFF) != 0)
				return true;
		return false;
	}
	if (ctx->storage == IndexStorage::SparseTop) {
		// Normalized before it was cut (IndexDatumValues, IndexQueryValues); its values are
		// non-zero unless it has none.
		return StoredSparseView(values).nnz > 0;
	}
	if (ctx->value_size == kSparseValueSize)
		return NormalizeSparse(values);
	// Normalized in float32 then stored back in the column's format, as l2_normalize() does.
	auto *x = static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(ctx->dims)));
	IndexWidenVector(ctx, values, x);
	bool nonzero = NormalizeFloats(x, static_cast<std::size_t>(ctx->dims));
	if (nonzero)
		IndexNarrowVector(ctx, x, values);
	pfree(x);
	return nonzero;
}

namespace {

template <class Kernels, class T>
float
DistanceWith(const Kernels &k, core::Metric metric, const T *a, const T *b, std::size_t n)
{
	switch (metric) {
	case core::Metric::L2:
		return k.l2_squared(a, b, n);
	case core::Metric::InnerProduct:
		return -k.dot(a, b, n);
	case core::Metric::Cosine:
		return 1.0f - k.dot(a, b, n);
	case core::Metric::L1:
		return k.l1(a, b, n);
	case core::Metric::Hamming:
	case core::Metric::Jaccard:
		break; // bit strings: see IndexDistance
	}
	return 0;
}

} // namespace

// Smaller is closer, and the order matches the SQL operator's: squared L2 for <->,
// negative dot for <#>, 1 - dot of normalized vectors for <=>, L1 for <+>.
float
IndexDistance(const IndexValues *ctx, const void *a, const void *b)
{
	std::size_t n = static_cast<std::size_t>(ctx->dims);
	if (ctx->value_size == kSparseValueSize) {
		core::SparseView x = StoredSparseView(a), y = StoredSparseView(b);
		switch (ctx->metric) {
		case core::Metric::L2:
			return core::SparseL2Squared(x, y);
		case core::Metric::InnerProduct:
			return -core::SparseInnerProduct(x, y);
		case core::Metric::Cosine:
			return 1.0f - core::SparseInnerProduct(x, y);
		case core::Metric::L1:
			return core::SparseL1(x, y);
		case core::Metric::Hamming:
		case core::Metric::Jaccard:
			break;
		}
		return 0;
	}
	if (ctx->value_size == 0) {
		const core::BitKernels &k = core::ActiveBitKernels();
		const auto *x = static_cast<const std::uint8_t *>(a);
		const auto *y = static_cast<const std::uint8_t *>(b);
		if (ctx->metric == core::Metric::Jaccard)
			return static_cast<float>(core::JaccardDistance(k.jaccard(x, y, ctx->vector_bytes)));
		return static_cast<float>(k.hamming(x, y, ctx->vector_bytes));
	}
	if (ctx->value_size == kSq8ValueSize || ctx->value_size == kSq4ValueSize) {
		int bits = CodeBits(ctx->value_size);
		switch (ctx->metric) {
		case core::Metric::L2:
			return static_cast<float>(core::CodedVectorL2Squared(bits, a, b, n));
		case core::Metric::InnerProduct:
			return static_cast<float>(-core::CodedVectorDot(bits, a, b, n));
		case core::Metric::Cosine:
			return static_cast<float>(1.0 - core::CodedVectorDot(bits, a, b, n));
		case core::Metric::L1:
			return static_cast<float>(core::CodedVectorL1(bits, a, b, n));
		case core::Metric::Hamming:
		case core::Metric::Jaccard:
			break;
		}
		return 0;
	}
	if (ctx->value_size == 2)
		return DistanceWith(core::ActiveHalfKernels(), ctx->metric, static_cast<const core::Half *>(a),
		                    static_cast<const core::Half *>(b), n);
	return DistanceWith(core::ActiveKernels(), ctx->metric, static_cast<const float *>(a),
	                    static_cast<const float *>(b), n);
}


float
IndexOperatorDistance(const IndexValues *ctx, const void *a, const void *b)
{
	if (ctx->metric == core::Metric::Cosine && ctx->value_size == kSparseValueSize) {
		// As sparsevec's <=>: the dot product and the norms summed in float, then double.
		core::SparseView x = StoredSparseView(a), y = StoredSparseView(b);
		double similarity = static_cast<double>(core::SparseInnerProduct(x, y)) /
		                    std::sqrt(static_cast<double>(core::SparseNormSquared(x)) *
		                              static_cast<double>(core::SparseNormSquared(y)));
		if (std::isnan(similarity)) // a zero vector: the operator's NaN would not order
			return 1.0f;
		return static_cast<float>(1.0 - std::clamp(similarity, -1.0, 1.0));
	}
	if (ctx->metric != core::Metric::Cosine || (ctx->value_size != 4 && ctx->value_size != 2))
		return IndexDistance(ctx, a, b);
	std::size_t n = static_cast<std::size_t>(ctx->dims);
	core::CosineSums sums = ctx->value_size == 4
	                            ? core::ActiveKernels().cosine_sums(static_cast<const float *>(a),
	                                                                static_cast<const float *>(b), n)
	                            : core::ActiveHalfKernels().cosine_sums(static_cast<const core::Half *>(a),
	                                                                    static_cast<const core::Half *>(b), n);
	double similarity =
	    static_cast<double>(sums.dot) / std::sqrt(static_cast<double>(sums.norm_a) * static_cast<double>(sums.norm_b));
	if (std::isnan(similarity)) // a zero vector: the operator's NaN would not order
		return 1.0f;
	return static_cast<float>(1.0 - std::clamp(similarity, -1.0, 1.0));
}

void
DescribeIndexValues(Relation index, const char *am_name, int max_sparse_nnz, IndexValues *out)
{
	out->am_name = am_name;
	DescribeIndex(index, am_name, &out->metric, &out->value_size);
	out->dims = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	out->max_sparse_nnz = max_sparse_nnz;
	out->storage = IndexStorage::Exact;
	if (out->value_size == kSparseValueSize)
		out->vector_bytes = StoredSparseBytes(max_sparse_nnz);
	else
		out->vector_bytes = StoredVectorBytes(out->value_size, out->dims > 0 ? out->dims : 0);
}

void
CheckIndexDimensions(const IndexValues *v)
{
	if (v->dims < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("column does not have dimensions")));
	int max_dims = IndexMaxDims(v);
	if (v->dims > max_dims)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("column cannot have more than %d dimensions for %s index", max_dims, v->am_name)));
}

} // namespace quiver::pg
