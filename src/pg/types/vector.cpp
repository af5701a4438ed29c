// The `vector` type: I/O, typmod, casts, distance functions and operators, arithmetic,
// comparisons and aggregate support, with pgvector's names, semantics and messages.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "quiver/kernels.hpp"
#include "quiver/vector_binary.hpp"
#include "quiver/vector_text.hpp"
#include "vector.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/varbit.h"
}

namespace quiver::pg {

Vector *
InitVector(int dim)
{
	std::size_t size = VectorSize(dim);
	auto *result = static_cast<Vector *>(palloc0(size));
	SET_VARSIZE(result, size);
	result->dim = static_cast<int16>(dim);
	return result;
}

void
CheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vector must have at least 1 dimension")));
	if (dim > kVectorMaxDim)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("vector cannot have more than %d dimensions", kVectorMaxDim)));
}

void
CheckExpectedDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected %d dimensions, not %d", typmod, dim)));
}

void
CheckSameDims(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
		        (errcode(ERRCODE_DATA_EXCEPTION), errmsg("different vector dimensions %d and %d", a->dim, b->dim)));
}

void
CheckElement(float value)
{
	if (std::isnan(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("NaN not allowed in vector")));
	if (std::isinf(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("infinite value not allowed in vector")));
}

} // namespace quiver::pg

using namespace quiver::pg;
using quiver::core::ActiveKernels;

namespace {

pg_attribute_noreturn() void ReportInvalidText(const char *lit, const char *detail)
{
	if (detail != nullptr)
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
		                errmsg("invalid input syntax for type vector: \"%s\"", lit), errdetail("%s", detail)));
	ereport(ERROR,
	        (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), errmsg("invalid input syntax for type vector: \"%s\"", lit)));
	pg_unreachable();
}

Vector *
VectorFromValues(const float *values, int dim)
{
	Vector *result = InitVector(dim);
	std::memcpy(VectorValues(result), values, sizeof(float) * static_cast<std::size_t>(dim));
	return result;
}

// Overflow checks after element-wise arithmetic, as float4 arithmetic does in PostgreSQL.
void
CheckOverflow(const float *values, int dim)
{
	for (int i = 0; i < dim; i++) {
		if (std::isinf(values[i]))
			float_overflow_error();
	}
}

double
NormSquaredDouble(const float *x, int dim)
{
	// In double, unlike the distance kernels: pgvector's vector_norm('[3e37,4e37]') is 5e+37.
	double sum = 0.0;
	for (int i = 0; i < dim; i++)
		sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
	return sum;
}

int
CompareVectors(const Vector *a, const Vector *b)
{
	const float *ax = VectorValues(a);
	const float *bx = VectorValues(b);
	int dim = Min(a->dim, b->dim);

	// Values before lengths, like PostgreSQL arrays: [1,2] < [2] and [1,2] < [1,2,0].
	for (int i = 0; i < dim; i++) {
		if (ax[i] < bx[i])
			return -1;
		if (ax[i] > bx[i])
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

// Cosine similarity clamped to [-1, 1]; NaN when either vector is zero (as pgvector).
double
CosineSimilarity(const Vector *a, const Vector *b)
{
	auto sums = ActiveKernels().cosine_sums(VectorValues(a), VectorValues(b), static_cast<std::size_t>(a->dim));
	double similarity =
	    static_cast<double>(sums.dot) / std::sqrt(static_cast<double>(sums.norm_a) * static_cast<double>(sums.norm_b));
	if (similarity > 1)
		similarity = 1.0;
	else if (similarity < -1)
		similarity = -1.0;
	return similarity;
}

// The aggregate state is float8[]: {n, sum_1, ..., sum_dim}.
float8 *
CheckStateArray(ArrayType *state, const char *caller)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 || ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	return reinterpret_cast<float8 *>(ARR_DATA_PTR(state));
}

int
StateDims(ArrayType *state)
{
	return ARR_DIMS(state)[0] - 1;
}

ArrayType *
MakeStateArray(Datum *datums, int dim)
{
	return construct_array(datums, dim + 1, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

Datum *
AllocStateDatums(int dim)
{
	return static_cast<Datum *>(palloc(mul_size(sizeof(Datum), static_cast<Size>(dim) + 1)));
}

} // namespace

/* ---------- I/O ---------- */

QUIVER_FUNCTION(vector_in)
{
	char *lit = PG_GETARG_CSTRING(0);
	int32 typmod = PG_GETARG_INT32(2);
	float values[kVectorMaxDim];

	auto r = quiver::core::ParseVectorText(lit, values, kVectorMaxDim);
	switch (r.status) {
	case quiver::core::VectorTextStatus::Ok:
		break;
	case quiver::core::VectorTextStatus::MissingOpenBracket:
		ReportInvalidText(lit, "Vector contents must start with \"[\".");
	case quiver::core::VectorTextStatus::NoDimensions:
		CheckDim(0);
		break;
	case quiver::core::VectorTextStatus::TooManyDimensions:
		CheckDim(kVectorMaxDim + 1);
		break;
	case quiver::core::VectorTextStatus::Syntax:
		ReportInvalidText(lit, nullptr);
	case quiver::core::VectorTextStatus::JunkAfterBracket:
		ReportInvalidText(lit, "Junk after closing right brace.");
	case quiver::core::VectorTextStatus::OutOfRange:
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
		                errmsg("\"%s\" is out of range for type vector", pnstrdup(lit + r.token_begin, r.token_len))));
		break;
	case quiver::core::VectorTextStatus::NaNValue:
		CheckElement(NAN);
		break;
	case quiver::core::VectorTextStatus::InfiniteValue:
		CheckElement(INFINITY);
		break;
	}

	CheckDim(r.dim);
	CheckExpectedDim(typmod, r.dim);
	PG_RETURN_POINTER(VectorFromValues(values, r.dim));
}

QUIVER_FUNCTION(vector_out)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	auto *buf = static_cast<char *>(palloc(quiver::core::VectorTextCapacity(v->dim)));
	quiver::core::FormatVectorText(VectorValues(v), v->dim, buf);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

QUIVER_FUNCTION(vector_typmod_in)
{
	ArrayType *ta = PG_GETARG_ARRAYTYPE_P(0);
	int n;
	int32 *tl = ArrayGetIntegerTypmods(ta, &n);

	if (n != 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid type modifier")));
	if (*tl < 1)
		ereport(ERROR,
		        (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("dimensions for type vector must be at least 1")));
	if (*tl > kVectorMaxDim)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("dimensions for type vector cannot exceed %d", kVectorMaxDim)));
	PG_RETURN_INT32(*tl);
}

QUIVER_FUNCTION(vector_recv)
{
	StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
	int32 typmod = PG_GETARG_INT32(2);
	float values[kVectorMaxDim];

	auto r = quiver::core::ParseVectorBinary(reinterpret_cast<const std::uint8_t *>(buf->data + buf->cursor),
	                                         static_cast<std::size_t>(buf->len - buf->cursor), typmod, values,
	                                         kVectorMaxDim);
	switch (r.status) {
	case quiver::core::VectorBinaryStatus::Ok:
		break;
	case quiver::core::VectorBinaryStatus::Truncated:
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
		break;
	case quiver::core::VectorBinaryStatus::NoDimensions:
	case quiver::core::VectorBinaryStatus::TooManyDimensions:
		CheckDim(r.dim);
		break;
	case quiver::core::VectorBinaryStatus::DimensionMismatch:
		CheckExpectedDim(typmod, r.dim);
		break;
	case quiver::core::VectorBinaryStatus::UnusedNotZero:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected unused to be 0, not %d", r.unused)));
		break;
	case quiver::core::VectorBinaryStatus::NaNValue:
		CheckElement(NAN);
		break;
	case quiver::core::VectorBinaryStatus::InfiniteValue:
		CheckElement(INFINITY);
		break;
	}
	buf->cursor += static_cast<int>(r.consumed);
	PG_RETURN_POINTER(VectorFromValues(values, r.dim));
}

QUIVER_FUNCTION(vector_send)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	std::size_t payload = quiver::core::VectorBinarySize(v->dim);
	auto *result = static_cast<bytea *>(palloc(VARHDRSZ + payload));
	SET_VARSIZE(result, VARHDRSZ + payload);
	quiver::core::WriteVectorBinary(VectorValues(v), v->dim, reinterpret_cast<std::uint8_t *>(VARDATA(result)));
	PG_RETURN_BYTEA_P(result);
}

/* ---------- casts ---------- */

// vector -> vector(n): only checks the typmod.
QUIVER_FUNCTION(vector)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	CheckExpectedDim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_POINTER(v);
}

QUIVER_FUNCTION(array_to_vector)
{
	ArrayType *array = PG_GETARG_ARRAYTYPE_P(0);
	int32 typmod = PG_GETARG_INT32(1);
	int16 typlen;
	bool typbyval;
	char typalign;
	Datum *elems;
	int nelems;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("array must be 1-D")));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("array must not contain nulls")));

	Oid elemtype = ARR_ELEMTYPE(array);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, nullptr, &nelems);

	CheckDim(nelems);
	CheckExpectedDim(typmod, nelems);

	Vector *result = InitVector(nelems);
	float *x = VectorValues(result);
	switch (elemtype) {
	case INT4OID:
		for (int i = 0; i < nelems; i++)
			x[i] = static_cast<float>(DatumGetInt32(elems[i]));
		break;
	case FLOAT8OID:
		for (int i = 0; i < nelems; i++)
			x[i] = static_cast<float>(DatumGetFloat8(elems[i]));
		break;
	case FLOAT4OID:
		for (int i = 0; i < nelems; i++)
			x[i] = DatumGetFloat4(elems[i]);
		break;
	case NUMERICOID:
		for (int i = 0; i < nelems; i++)
			x[i] = DatumGetFloat4(DirectFunctionCall1(numeric_float4, elems[i]));
		break;
	default:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("unsupported array type")));
	}
	pfree(elems);

	for (int i = 0; i < nelems; i++)
		CheckElement(x[i]);
	PG_RETURN_POINTER(result);
}

QUIVER_FUNCTION(vector_to_float4)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	const float *x = VectorValues(v);
	auto *datums = static_cast<Datum *>(palloc(mul_size(sizeof(Datum), static_cast<Size>(v->dim))));
	for (int i = 0; i < v->dim; i++)
		datums[i] = Float4GetDatum(x[i]);
	ArrayType *result = construct_array(datums, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(datums);
	PG_RETURN_POINTER(result);
}

/* ---------- distances ---------- */

namespace {

// Runs one of the active float32 kernels on the two vector arguments.
float
ApplyKernel(FunctionCallInfo fcinfo, quiver::core::DistanceFn quiver::core::F32Kernels::*kernel)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	CheckSameDims(a, b);
	return (ActiveKernels().*kernel)(VectorValues(a), VectorValues(b), static_cast<std::size_t>(a->dim));
}

} // namespace

QUIVER_FUNCTION(l2_distance)
{
	PG_RETURN_FLOAT8(std::sqrt(static_cast<double>(ApplyKernel(fcinfo, &quiver::core::F32Kernels::l2_squared))));
}

QUIVER_FUNCTION(vector_l2_squared_distance)
{
	PG_RETURN_FLOAT8(static_cast<double>(ApplyKernel(fcinfo, &quiver::core::F32Kernels::l2_squared)));
}

QUIVER_FUNCTION(inner_product)
{
	PG_RETURN_FLOAT8(static_cast<double>(ApplyKernel(fcinfo, &quiver::core::F32Kernels::dot)));
}

QUIVER_FUNCTION(vector_negative_inner_product)
{
	PG_RETURN_FLOAT8(-static_cast<double>(ApplyKernel(fcinfo, &quiver::core::F32Kernels::dot)));
}

QUIVER_FUNCTION(cosine_distance)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	CheckSameDims(a, b);
	PG_RETURN_FLOAT8(1.0 - CosineSimilarity(a, b));
}

// Angular distance in [0, 1] for unit vectors; it obeys the triangle inequality, which
// spherical k-means needs (ivfflat uses it for cosine).
QUIVER_FUNCTION(vector_spherical_distance)
{
	double dot = ApplyKernel(fcinfo, &quiver::core::F32Kernels::dot);
	if (dot > 1)
		dot = 1;
	else if (dot < -1)
		dot = -1;
	PG_RETURN_FLOAT8(std::acos(dot) / M_PI);
}

QUIVER_FUNCTION(l1_distance)
{
	PG_RETURN_FLOAT8(static_cast<double>(ApplyKernel(fcinfo, &quiver::core::F32Kernels::l1)));
}

/* ---------- functions ---------- */

QUIVER_FUNCTION(vector_dims)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	PG_RETURN_INT32(a->dim);
}

QUIVER_FUNCTION(vector_norm)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	PG_RETURN_FLOAT8(std::sqrt(NormSquaredDouble(VectorValues(a), a->dim)));
}

QUIVER_FUNCTION(l2_normalize)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	const float *ax = VectorValues(a);
	Vector *result = InitVector(a->dim);
	float *rx = VectorValues(result);
	double norm = std::sqrt(NormSquaredDouble(ax, a->dim));

	// A zero vector stays zero rather than becoming NaN.
	if (norm > 0) {
		for (int i = 0; i < a->dim; i++)
			rx[i] = static_cast<float>(ax[i] / norm);
		CheckOverflow(rx, a->dim);
	}
	PG_RETURN_POINTER(result);
}

QUIVER_FUNCTION(binary_quantize)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	const float *ax = VectorValues(a);
	int size = VARBITTOTALLEN(a->dim);
	auto *result = static_cast<VarBit *>(palloc0(static_cast<Size>(size)));
	SET_VARSIZE(result, size);
	VARBITLEN(result) = a->dim;
	bits8 *rx = VARBITS(result);
	for (int i = 0; i < a->dim; i++) {
		if (ax[i] > 0)
			rx[i / 8] = static_cast<bits8>(rx[i / 8] | (0x80 >> (i % 8)));
	}
	PG_RETURN_VARBIT_P(result);
}

QUIVER_FUNCTION(subvector)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	int32 start = PG_GETARG_INT32(1);
	int32 count = PG_GETARG_INT32(2);
	int32 end;

	if (count < 1)
		CheckDim(0);

	// start + count may overflow int32; a->dim - count cannot, both being positive.
	if (start > a->dim - count)
		end = a->dim + 1;
	else
		end = start + count;

	// 1-based like substring(); a start before 1 just shortens the result.
	if (start < 1)
		start = 1;
	else if (start > a->dim)
		CheckDim(0);

	int dim = end - start;
	CheckDim(dim);
	PG_RETURN_POINTER(VectorFromValues(VectorValues(a) + (start - 1), dim));
}

/* ---------- arithmetic ---------- */

namespace {

// Applies op element by element to two vectors of equal dimension.
template <typename Op>
Vector *
ElementWise(const Vector *a, const Vector *b, Op op)
{
	CheckSameDims(a, b);
	Vector *result = InitVector(a->dim);
	const float *ax = VectorValues(a);
	const float *bx = VectorValues(b);
	float *rx = VectorValues(result);
	for (int i = 0; i < a->dim; i++)
		rx[i] = op(ax[i], bx[i]);
	return result;
}

} // namespace

QUIVER_FUNCTION(vector_add)
{
	Vector *result = ElementWise(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1), [](float x, float y) { return x + y; });
	CheckOverflow(VectorValues(result), result->dim);
	PG_RETURN_POINTER(result);
}

QUIVER_FUNCTION(vector_sub)
{
	Vector *result = ElementWise(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1), [](float x, float y) { return x - y; });
	CheckOverflow(VectorValues(result), result->dim);
	PG_RETURN_POINTER(result);
}

QUIVER_FUNCTION(vector_mul)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	Vector *result = ElementWise(a, b, [](float x, float y) { return x * y; });
	const float *ax = VectorValues(a);
	const float *bx = VectorValues(b);
	const float *rx = VectorValues(result);
	for (int i = 0; i < result->dim; i++) {
		if (std::isinf(rx[i]))
			float_overflow_error();
		// A product of two non-zero values that rounds to zero has underflowed.
		if (rx[i] == 0 && !(ax[i] == 0 || bx[i] == 0))
			float_underflow_error();
	}
	PG_RETURN_POINTER(result);
}

QUIVER_FUNCTION(vector_concat)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	int dim = a->dim + b->dim;
	CheckDim(dim);
	Vector *result = InitVector(dim);
	std::memcpy(VectorValues(result), VectorValues(a), sizeof(float) * static_cast<std::size_t>(a->dim));
	std::memcpy(VectorValues(result) + a->dim, VectorValues(b), sizeof(float) * static_cast<std::size_t>(b->dim));
	PG_RETURN_POINTER(result);
}

/* ---------- comparison (btree opclass) ---------- */

#define QUIVER_VECTOR_COMPARISON(name, test)                                                                       \
	QUIVER_FUNCTION(name)                                                                                          \
	{                                                                                                              \
		Vector *a = PG_GETARG_VECTOR_P(0);                                                                         \
		Vector *b = PG_GETARG_VECTOR_P(1);                                                                         \
		int cmp = CompareVectors(a, b);                                                                            \
		PG_RETURN_BOOL(test);                                                                                      \
	}

QUIVER_VECTOR_COMPARISON(vector_lt, cmp < 0)
QUIVER_VECTOR_COMPARISON(vector_le, cmp <= 0)
QUIVER_VECTOR_COMPARISON(vector_eq, cmp == 0)
QUIVER_VECTOR_COMPARISON(vector_ne, cmp != 0)
QUIVER_VECTOR_COMPARISON(vector_ge, cmp >= 0)
QUIVER_VECTOR_COMPARISON(vector_gt, cmp > 0)

QUIVER_FUNCTION(vector_cmp)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	PG_RETURN_INT32(CompareVectors(a, b));
}

/* ---------- aggregates: avg(vector) via a float8[] state; sum(vector) uses vector_add ---------- */

QUIVER_FUNCTION(vector_accum)
{
	ArrayType *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector *v = PG_GETARG_VECTOR_P(1);
	const float8 *sums = CheckStateArray(state, "vector_accum");
	const float *x = VectorValues(v);
	int dim = StateDims(state);
	bool first = dim == 0;

	if (first)
		dim = v->dim;
	else
		CheckExpectedDim(dim, v->dim);

	Datum *datums = AllocStateDatums(dim);
	datums[0] = Float8GetDatum(sums[0] + 1.0);
	for (int i = 0; i < dim; i++) {
		double value = first ? static_cast<double>(x[i]) : sums[i + 1] + static_cast<double>(x[i]);
		if (std::isinf(value))
			float_overflow_error();
		datums[i + 1] = Float8GetDatum(value);
	}
	ArrayType *result = MakeStateArray(datums, dim);
	pfree(datums);
	PG_RETURN_ARRAYTYPE_P(result);
}

QUIVER_FUNCTION(vector_combine)
{
	ArrayType *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType *state2 = PG_GETARG_ARRAYTYPE_P(1);
	const float8 *sums1 = CheckStateArray(state1, "vector_combine");
	const float8 *sums2 = CheckStateArray(state2, "vector_combine");
	int dim1 = StateDims(state1);
	int dim2 = StateDims(state2);
	int dim;
	Datum *datums;

	if (dim1 == 0 && dim2 == 0) {
		dim = 0;
		datums = AllocStateDatums(dim);
	} else if (dim1 == 0 || dim2 == 0) {
		const float8 *from = dim1 == 0 ? sums2 : sums1;
		dim = dim1 == 0 ? dim2 : dim1;
		CheckDim(dim);
		datums = AllocStateDatums(dim);
		for (int i = 0; i < dim; i++)
			datums[i + 1] = Float8GetDatum(from[i + 1]);
	} else {
		dim = dim1;
		CheckDim(dim);
		CheckExpectedDim(dim, dim2);
		datums = AllocStateDatums(dim);
		for (int i = 0; i < dim; i++) {
			double value = sums1[i + 1] + sums2[i + 1];
			if (std::isinf(value))
				float_overflow_error();
			datums[i + 1] = Float8GetDatum(value);
		}
	}
	datums[0] = Float8GetDatum(sums1[0] + sums2[0]);
	ArrayType *result = MakeStateArray(datums, dim);
	pfree(datums);
	PG_RETURN_ARRAYTYPE_P(result);
}

QUIVER_FUNCTION(vector_avg)
{
	ArrayType *state = PG_GETARG_ARRAYTYPE_P(0);
	const float8 *sums = CheckStateArray(state, "vector_avg");
	float8 n = sums[0];

	// The average of no rows is NULL, as for every SQL avg().
	if (n == 0.0)
		PG_RETURN_NULL();

	int dim = StateDims(state);
	CheckDim(dim);
	Vector *result = InitVector(dim);
	float *x = VectorValues(result);
	for (int i = 0; i < dim; i++) {
		x[i] = static_cast<float>(sums[i + 1] / n);
		CheckElement(x[i]);
	}
	PG_RETURN_POINTER(result);
}
