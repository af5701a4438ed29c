// The SQL functions `vector` and `halfvec` share, written once as templates over the element
// type. vector.cpp and halfvec.cpp instantiate them behind their own fmgr entry points, so
// every message names the right type and both types behave as pgvector's do.
//
// Values are computed in float32 whatever the storage (pgvector does the same for halfvec):
// elements are widened on the way in and narrowed, with range checks, on the way out.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quiver/float_format.hpp"
#include "quiver/half.hpp"
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

struct F32Elements {
	using Element = float;
	static constexpr const char *kName = "vector";
	// Text input: anything float32 can hold.
	static constexpr float kTextLimit = __builtin_inff();

	static float ToFloat(float x) { return x; }
	// For arithmetic results, which are checked for overflow by the caller.
	static float Narrow(float x) { return x; }
	static bool Overflowed(float x) { return std::isinf(x); }
	// For values converted from another type: float32 holds every float32.
	static float NarrowChecked(float x) { return x; }
	static const core::F32Kernels &Kernels() { return core::ActiveKernels(); }
	static float *Values(Vector *v) { return VectorValues(v); }
	static const float *Values(const Vector *v) { return VectorValues(v); }
	static std::size_t BinarySize(int dim) { return core::VectorBinarySize(dim); }
	static core::VectorBinaryResult
	ParseBinary(const std::uint8_t *data, std::size_t len, int typmod, float *out)
	{
		return core::ParseVectorBinary(data, len, typmod, out, kVectorMaxDim);
	}
	static void WriteBinary(const float *v, int dim, std::uint8_t *out) { core::WriteVectorBinary(v, dim, out); }
};

struct F16Elements {
	using Element = core::Half;
	static constexpr const char *kName = "halfvec";
	// From 65520 up, rounding to half precision reaches infinity.
	static constexpr float kTextLimit = 65520.0f;

	static float ToFloat(core::Half h) { return core::HalfToFloat(h); }
	static core::Half Narrow(float x) { return core::FloatToHalf(x); }
	static bool Overflowed(core::Half h) { return !core::HalfIsFinite(h); }
	// A finite float beyond the half range is an error naming the value (pgvector's message);
	// NaN and infinity pass through for CheckElement to report.
	static core::Half
	NarrowChecked(float x)
	{
		core::Half h = core::FloatToHalf(x);
		if (!core::HalfIsFinite(h) && std::isfinite(x)) {
			char buf[core::kFloatTextMax + 1];
			buf[core::FormatFloatShortest(x, buf)] = '\0';
			ereport(ERROR,
			        (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE), errmsg("\"%s\" is out of range for type halfvec", buf)));
		}
		return h;
	}
	static const core::F16Kernels &Kernels() { return core::ActiveHalfKernels(); }
	static core::Half *Values(Vector *v) { return HalfvecValues(v); }
	static const core::Half *Values(const Vector *v) { return HalfvecValues(v); }
	static std::size_t BinarySize(int dim) { return core::HalfvecBinarySize(dim); }
	static core::VectorBinaryResult
	ParseBinary(const std::uint8_t *data, std::size_t len, int typmod, core::Half *out)
	{
		return core::ParseHalfvecBinary(data, len, typmod, out, kVectorMaxDim);
	}
	static void WriteBinary(const core::Half *v, int dim, std::uint8_t *out) { core::WriteHalfvecBinary(v, dim, out); }
};

namespace impl {

template <class E>
Vector *
Init(int dim)
{
	std::size_t size = sizeof(Vector) + sizeof(typename E::Element) * static_cast<std::size_t>(dim);
	auto *result = static_cast<Vector *>(palloc0(size));
	SET_VARSIZE(result, size);
	result->dim = static_cast<int16>(dim);
	return result;
}

template <class E>
float
At(const Vector *v, int i)
{
	return E::ToFloat(E::Values(v)[i]);
}

// A vector of E from float values already known to be in range.
template <class E>
Vector *
FromFloats(const float *values, int dim)
{
	Vector *result = Init<E>(dim);
	auto *x = E::Values(result);
	for (int i = 0; i < dim; i++)
		x[i] = E::Narrow(values[i]);
	return result;
}

pg_attribute_noreturn() inline void ReportInvalidText(const char *type, const char *lit, const char *detail)
{
	if (detail != nullptr)
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
		                errmsg("invalid input syntax for type %s: \"%s\"", type, lit), errdetail("%s", detail)));
	ereport(ERROR,
	        (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), errmsg("invalid input syntax for type %s: \"%s\"", type, lit)));
	pg_unreachable();
}

/* ---------- I/O ---------- */

template <class E>
Datum
In(FunctionCallInfo fcinfo)
{
	char *lit = PG_GETARG_CSTRING(0);
	int32 typmod = PG_GETARG_INT32(2);
	float values[kVectorMaxDim];

	auto r = core::ParseVectorText(lit, values, kVectorMaxDim, E::kTextLimit);
	switch (r.status) {
	case core::VectorTextStatus::Ok:
		break;
	case core::VectorTextStatus::MissingOpenBracket:
		ReportInvalidText(E::kName, lit, "Vector contents must start with \"[\".");
	case core::VectorTextStatus::NoDimensions:
		CheckDim(0, E::kName);
		break;
	case core::VectorTextStatus::TooManyDimensions:
		CheckDim(kVectorMaxDim + 1, E::kName);
		break;
	case core::VectorTextStatus::Syntax:
		ReportInvalidText(E::kName, lit, nullptr);
	case core::VectorTextStatus::JunkAfterBracket:
		ReportInvalidText(E::kName, lit, "Junk after closing right brace.");
	case core::VectorTextStatus::OutOfRange:
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
		                errmsg("\"%s\" is out of range for type %s", pnstrdup(lit + r.token_begin, r.token_len),
		                       E::kName)));
		break;
	case core::VectorTextStatus::NaNValue:
		CheckElement(NAN, E::kName);
		break;
	case core::VectorTextStatus::InfiniteValue:
		CheckElement(INFINITY, E::kName);
		break;
	}

	CheckDim(r.dim, E::kName);
	CheckExpectedDim(typmod, r.dim);
	PG_RETURN_POINTER(FromFloats<E>(values, r.dim));
}

template <class E>
Datum
Out(FunctionCallInfo fcinfo)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	auto *floats = static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(v->dim)));
	for (int i = 0; i < v->dim; i++)
		floats[i] = At<E>(v, i);
	auto *buf = static_cast<char *>(palloc(core::VectorTextCapacity(v->dim)));
	core::FormatVectorText(floats, v->dim, buf);
	pfree(floats);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

// typmod_in of the vector types: one dimension count in 1..max_dim (pgvector's messages).
inline Datum
DimensionTypmodIn(FunctionCallInfo fcinfo, const char *type, int max_dim)
{
	ArrayType *ta = PG_GETARG_ARRAYTYPE_P(0);
	int n;
	int32 *tl = ArrayGetIntegerTypmods(ta, &n);

	if (n != 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid type modifier")));
	if (*tl < 1)
		ereport(ERROR,
		        (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("dimensions for type %s must be at least 1", type)));
	if (*tl > max_dim)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("dimensions for type %s cannot exceed %d", type, max_dim)));
	PG_RETURN_INT32(*tl);
}

template <class E>
Datum
TypmodIn(FunctionCallInfo fcinfo)
{
	return DimensionTypmodIn(fcinfo, E::kName, kVectorMaxDim);
}

template <class E>
Datum
Recv(FunctionCallInfo fcinfo)
{
	StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
	int32 typmod = PG_GETARG_INT32(2);
	typename E::Element values[kVectorMaxDim];

	auto r = E::ParseBinary(reinterpret_cast<const std::uint8_t *>(buf->data + buf->cursor),
	                        static_cast<std::size_t>(buf->len - buf->cursor), typmod, values);
	switch (r.status) {
	case core::VectorBinaryStatus::Ok:
		break;
	case core::VectorBinaryStatus::Truncated:
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
		break;
	case core::VectorBinaryStatus::NoDimensions:
	case core::VectorBinaryStatus::TooManyDimensions:
		CheckDim(r.dim, E::kName);
		break;
	case core::VectorBinaryStatus::DimensionMismatch:
		CheckExpectedDim(typmod, r.dim);
		break;
	case core::VectorBinaryStatus::UnusedNotZero:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected unused to be 0, not %d", r.unused)));
		break;
	case core::VectorBinaryStatus::NaNValue:
		CheckElement(NAN, E::kName);
		break;
	case core::VectorBinaryStatus::InfiniteValue:
		CheckElement(INFINITY, E::kName);
		break;
	}
	buf->cursor += static_cast<int>(r.consumed);
	Vector *result = Init<E>(r.dim);
	std::memcpy(E::Values(result), values, sizeof(typename E::Element) * static_cast<std::size_t>(r.dim));
	PG_RETURN_POINTER(result);
}

template <class E>
Datum
Send(FunctionCallInfo fcinfo)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	std::size_t payload = E::BinarySize(v->dim);
	auto *result = static_cast<bytea *>(palloc(VARHDRSZ + payload));
	SET_VARSIZE(result, VARHDRSZ + payload);
	E::WriteBinary(E::Values(v), v->dim, reinterpret_cast<std::uint8_t *>(VARDATA(result)));
	PG_RETURN_BYTEA_P(result);
}

/* ---------- casts ---------- */

// T -> T(n): only checks the typmod.
inline Datum
TypmodCast(FunctionCallInfo fcinfo)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	CheckExpectedDim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_POINTER(v);
}

// From another vector type (From) to E: values narrowed with range checks, then checked.
template <class From, class E>
Datum
Convert(FunctionCallInfo fcinfo)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	CheckDim(v->dim, E::kName);
	CheckExpectedDim(PG_GETARG_INT32(1), v->dim);
	Vector *result = Init<E>(v->dim);
	auto *x = E::Values(result);
	for (int i = 0; i < v->dim; i++)
		x[i] = E::NarrowChecked(At<From>(v, i));
	PG_RETURN_POINTER(result);
}

// The elements of a 1-D array without nulls (pgvector's checks and messages, in its order).
struct ArrayElements {
	Datum *elems;
	int count;
	Oid type;
};

inline ArrayElements
DeconstructArray(ArrayType *array)
{
	int16 typlen;
	bool typbyval;
	char typalign;
	ArrayElements r{nullptr, 0, ARR_ELEMTYPE(array)};

	if (ARR_NDIM(array) > 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("array must be 1-D")));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("array must not contain nulls")));
	get_typlenbyvalalign(r.type, &typlen, &typbyval, &typalign);
	deconstruct_array(array, r.type, typlen, typbyval, typalign, &r.elems, nullptr, &r.count);
	return r;
}

// The elements as float4 (int4, float8, float4 or numeric arrays: the casts that exist), in a
// new palloc'd array; frees the element datums. Call after the dimension checks, as pgvector
// converts after them.
inline float *
ArrayElementsToFloats(ArrayElements &a)
{
	auto *out = static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(a.count > 0 ? a.count : 1)));
	auto convert = [&](auto fn) {
		for (int i = 0; i < a.count; i++)
			out[i] = fn(a.elems[i]);
	};
	switch (a.type) {
	case INT4OID:
		convert([](Datum d) { return static_cast<float>(DatumGetInt32(d)); });
		break;
	case FLOAT8OID:
		convert([](Datum d) { return static_cast<float>(DatumGetFloat8(d)); });
		break;
	case FLOAT4OID:
		convert([](Datum d) { return DatumGetFloat4(d); });
		break;
	case NUMERICOID:
		convert([](Datum d) { return DatumGetFloat4(DirectFunctionCall1(numeric_float4, d)); });
		break;
	default:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("unsupported array type")));
	}
	pfree(a.elems);
	a.elems = nullptr;
	return out;
}

template <class E>
Datum
FromArray(FunctionCallInfo fcinfo)
{
	ArrayElements a = DeconstructArray(PG_GETARG_ARRAYTYPE_P(0));
	CheckDim(a.count, E::kName);
	CheckExpectedDim(PG_GETARG_INT32(1), a.count);
	float *floats = ArrayElementsToFloats(a);

	Vector *result = Init<E>(a.count);
	auto *x = E::Values(result);
	for (int i = 0; i < a.count; i++)
		x[i] = E::NarrowChecked(floats[i]);
	pfree(floats);
	for (int i = 0; i < a.count; i++)
		CheckElement(At<E>(result, i), E::kName);
	PG_RETURN_POINTER(result);
}

template <class E>
Datum
ToFloat4Array(FunctionCallInfo fcinfo)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	auto *datums = static_cast<Datum *>(palloc(mul_size(sizeof(Datum), static_cast<Size>(v->dim))));
	for (int i = 0; i < v->dim; i++)
		datums[i] = Float4GetDatum(At<E>(v, i));
	ArrayType *result = construct_array(datums, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(datums);
	PG_RETURN_POINTER(result);
}

/* ---------- distances ---------- */

// Runs one of the active kernels of E on the two arguments.
template <class E, class Kernel>
float
ApplyKernel(FunctionCallInfo fcinfo, Kernel kernel)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	CheckSameDims(a, b, E::kName);
	return (E::Kernels().*kernel)(E::Values(a), E::Values(b), static_cast<std::size_t>(a->dim));
}

template <class E>
Datum
L2Distance(FunctionCallInfo fcinfo)
{
	using K = std::remove_cvref_t<decltype(E::Kernels())>;
	PG_RETURN_FLOAT8(std::sqrt(static_cast<double>(ApplyKernel<E>(fcinfo, &K::l2_squared))));
}

template <class E>
Datum
L2SquaredDistance(FunctionCallInfo fcinfo)
{
	using K = std::remove_cvref_t<decltype(E::Kernels())>;
	PG_RETURN_FLOAT8(static_cast<double>(ApplyKernel<E>(fcinfo, &K::l2_squared)));
}

template <class E>
Datum
InnerProduct(FunctionCallInfo fcinfo)
{
	using K = std::remove_cvref_t<decltype(E::Kernels())>;
	PG_RETURN_FLOAT8(static_cast<double>(ApplyKernel<E>(fcinfo, &K::dot)));
}

template <class E>
Datum
NegativeInnerProduct(FunctionCallInfo fcinfo)
{
	using K = std::remove_cvref_t<decltype(E::Kernels())>;
	PG_RETURN_FLOAT8(-static_cast<double>(ApplyKernel<E>(fcinfo, &K::dot)));
}

// 1 - cosine similarity, the similarity clamped to [-1, 1]; NaN when either vector is zero (as
// pgvector).
template <class E>
Datum
CosineDistance(FunctionCallInfo fcinfo)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	CheckSameDims(a, b, E::kName);
	auto sums = E::Kernels().cosine_sums(E::Values(a), E::Values(b), static_cast<std::size_t>(a->dim));
	double similarity =
	    static_cast<double>(sums.dot) / std::sqrt(static_cast<double>(sums.norm_a) * static_cast<double>(sums.norm_b));
	if (similarity > 1)
		similarity = 1.0;
	else if (similarity < -1)
		similarity = -1.0;
	PG_RETURN_FLOAT8(1.0 - similarity);
}

// Angular distance in [0, 1] for unit vectors; it obeys the triangle inequality, which
// spherical k-means needs (ivfflat uses it for cosine).
template <class E>
Datum
SphericalDistance(FunctionCallInfo fcinfo)
{
	using K = std::remove_cvref_t<decltype(E::Kernels())>;
	double dot = ApplyKernel<E>(fcinfo, &K::dot);
	if (dot > 1)
		dot = 1;
	else if (dot < -1)
		dot = -1;
	PG_RETURN_FLOAT8(std::acos(dot) / M_PI);
}

template <class E>
Datum
L1Distance(FunctionCallInfo fcinfo)
{
	using K = std::remove_cvref_t<decltype(E::Kernels())>;
	PG_RETURN_FLOAT8(static_cast<double>(ApplyKernel<E>(fcinfo, &K::l1)));
}

/* ---------- functions ---------- */

inline Datum
Dims(FunctionCallInfo fcinfo)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	PG_RETURN_INT32(a->dim);
}

// In double, unlike the distance kernels: pgvector's vector_norm('[3e37,4e37]') is 5e+37.
template <class E>
double
NormDouble(const Vector *v)
{
	double sum = 0.0;
	for (int i = 0; i < v->dim; i++) {
		double x = At<E>(v, i);
		sum += x * x;
	}
	return std::sqrt(sum);
}

template <class E>
Datum
Norm(FunctionCallInfo fcinfo)
{
	PG_RETURN_FLOAT8(NormDouble<E>(PG_GETARG_VECTOR_P(0)));
}

// Overflow checks after arithmetic, as float4 arithmetic does in PostgreSQL.
template <class E>
void
CheckOverflow(const Vector *v)
{
	const auto *x = E::Values(v);
	for (int i = 0; i < v->dim; i++) {
		if (E::Overflowed(x[i]))
			float_overflow_error();
	}
}

template <class E>
Datum
Normalize(FunctionCallInfo fcinfo)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *result = Init<E>(a->dim);
	auto *rx = E::Values(result);
	double norm = NormDouble<E>(a);

	// A zero vector stays zero rather than becoming NaN.
	if (norm > 0) {
		for (int i = 0; i < a->dim; i++)
			rx[i] = E::Narrow(static_cast<float>(At<E>(a, i) / norm));
		CheckOverflow<E>(result);
	}
	PG_RETURN_POINTER(result);
}

template <class E>
Datum
BinaryQuantize(FunctionCallInfo fcinfo)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	int size = VARBITTOTALLEN(a->dim);
	auto *result = static_cast<VarBit *>(palloc0(static_cast<Size>(size)));
	SET_VARSIZE(result, size);
	VARBITLEN(result) = a->dim;
	bits8 *rx = VARBITS(result);
	for (int i = 0; i < a->dim; i++) {
		if (At<E>(a, i) > 0)
			rx[i / 8] = static_cast<bits8>(rx[i / 8] | (0x80 >> (i % 8)));
	}
	PG_RETURN_VARBIT_P(result);
}

template <class E>
Datum
Subvector(FunctionCallInfo fcinfo)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	int32 start = PG_GETARG_INT32(1);
	int32 count = PG_GETARG_INT32(2);
	int32 end;

	if (count < 1)
		CheckDim(0, E::kName);

	// start + count may overflow int32; a->dim - count cannot, both being positive.
	if (start > a->dim - count)
		end = a->dim + 1;
	else
		end = start + count;

	// 1-based like substring(); a start before 1 just shortens the result.
	if (start < 1)
		start = 1;
	else if (start > a->dim)
		CheckDim(0, E::kName);

	int dim = end - start;
	CheckDim(dim, E::kName);
	Vector *result = Init<E>(dim);
	std::memcpy(E::Values(result), E::Values(a) + (start - 1), sizeof(typename E::Element) * static_cast<std::size_t>(dim));
	PG_RETURN_POINTER(result);
}

/* ---------- arithmetic ---------- */

// Applies op (on float32) element by element to two vectors of equal dimension.
template <class E, typename Op>
Vector *
ElementWise(const Vector *a, const Vector *b, Op op)
{
	CheckSameDims(a, b, E::kName);
	Vector *result = Init<E>(a->dim);
	auto *rx = E::Values(result);
	for (int i = 0; i < a->dim; i++)
		rx[i] = E::Narrow(op(At<E>(a, i), At<E>(b, i)));
	return result;
}

template <class E>
Datum
Add(FunctionCallInfo fcinfo)
{
	Vector *result =
	    ElementWise<E>(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1), [](float x, float y) { return x + y; });
	CheckOverflow<E>(result);
	PG_RETURN_POINTER(result);
}

template <class E>
Datum
Sub(FunctionCallInfo fcinfo)
{
	Vector *result =
	    ElementWise<E>(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1), [](float x, float y) { return x - y; });
	CheckOverflow<E>(result);
	PG_RETURN_POINTER(result);
}

template <class E>
Datum
Mul(FunctionCallInfo fcinfo)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	Vector *result = ElementWise<E>(a, b, [](float x, float y) { return x * y; });
	for (int i = 0; i < result->dim; i++) {
		float r = At<E>(result, i);
		if (std::isinf(r))
			float_overflow_error();
		// A product of two non-zero values that rounds to zero has underflowed.
		if (r == 0 && !(At<E>(a, i) == 0 || At<E>(b, i) == 0))
			float_underflow_error();
	}
	PG_RETURN_POINTER(result);
}

template <class E>
Datum
Concat(FunctionCallInfo fcinfo)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	int dim = a->dim + b->dim;
	CheckDim(dim, E::kName);
	Vector *result = Init<E>(dim);
	std::size_t esize = sizeof(typename E::Element);
	std::memcpy(E::Values(result), E::Values(a), esize * static_cast<std::size_t>(a->dim));
	std::memcpy(E::Values(result) + a->dim, E::Values(b), esize * static_cast<std::size_t>(b->dim));
	PG_RETURN_POINTER(result);
}

/* ---------- comparison (btree opclass) ---------- */

template <class E>
int
Compare(const Vector *a, const Vector *b)
{
	int dim = Min(a->dim, b->dim);

	// Values before lengths, like PostgreSQL arrays: [1,2] < [2] and [1,2] < [1,2,0].
	for (int i = 0; i < dim; i++) {
		float x = At<E>(a, i), y = At<E>(b, i);
		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

template <class E>
int
CompareArgs(FunctionCallInfo fcinfo)
{
	return Compare<E>(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1));
}

/* ---------- aggregates: avg via a float8[] state {n, sum_1, ..., sum_dim}; sum uses Add ---------- */

inline float8 *
CheckStateArray(ArrayType *state, const char *caller)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 || ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	return reinterpret_cast<float8 *>(ARR_DATA_PTR(state));
}

inline int
StateDims(ArrayType *state)
{
	return ARR_DIMS(state)[0] - 1;
}

inline ArrayType *
MakeStateArray(Datum *datums, int dim)
{
	return construct_array(datums, dim + 1, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

inline Datum *
AllocStateDatums(int dim)
{
	return static_cast<Datum *>(palloc(mul_size(sizeof(Datum), static_cast<Size>(dim) + 1)));
}

template <class E>
Datum
Accum(FunctionCallInfo fcinfo, const char *caller)
{
	ArrayType *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector *v = PG_GETARG_VECTOR_P(1);
	const float8 *sums = CheckStateArray(state, caller);
	int dim = StateDims(state);
	bool first = dim == 0;

	if (first)
		dim = v->dim;
	else
		CheckExpectedDim(dim, v->dim);

	Datum *datums = AllocStateDatums(dim);
	datums[0] = Float8GetDatum(sums[0] + 1.0);
	for (int i = 0; i < dim; i++) {
		double x = At<E>(v, i);
		double value = first ? x : sums[i + 1] + x;
		if (std::isinf(value))
			float_overflow_error();
		datums[i + 1] = Float8GetDatum(value);
	}
	ArrayType *result = MakeStateArray(datums, dim);
	pfree(datums);
	PG_RETURN_ARRAYTYPE_P(result);
}

template <class E>
Datum
Combine(FunctionCallInfo fcinfo, const char *caller)
{
	ArrayType *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType *state2 = PG_GETARG_ARRAYTYPE_P(1);
	const float8 *sums1 = CheckStateArray(state1, caller);
	const float8 *sums2 = CheckStateArray(state2, caller);
	int dim1 = StateDims(state1);
	int dim2 = StateDims(state2);
	int dim;
	Datum *datums;

	// As pgvector's: a side that counted no rows gives way to the other, whose dimensions must
	// then be valid. Two empty states are an error when called from SQL (pgvector's tests expect
	// it), but inside an aggregate they are what a parallel worker that saw no rows hands on,
	// and averaging no rows must give NULL there, not the error pgvector 0.8.6 raises.
	if (sums1[0] == 0.0 && sums2[0] == 0.0 && dim1 == 0 && dim2 == 0 && AggCheckCallContext(fcinfo, nullptr) != 0) {
		dim = 0;
		datums = AllocStateDatums(dim);
	} else if (sums1[0] == 0.0 || sums2[0] == 0.0) {
		bool first_empty = sums1[0] == 0.0;
		const float8 *from = first_empty ? sums2 : sums1;
		dim = first_empty ? dim2 : dim1;
		CheckDim(dim, E::kName);
		datums = AllocStateDatums(dim);
		for (int i = 0; i < dim; i++)
			datums[i + 1] = Float8GetDatum(from[i + 1]);
	} else {
		dim = dim1;
		CheckDim(dim, E::kName);
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

template <class E>
Datum
Avg(FunctionCallInfo fcinfo, const char *caller)
{
	ArrayType *state = PG_GETARG_ARRAYTYPE_P(0);
	const float8 *sums = CheckStateArray(state, caller);
	float8 n = sums[0];

	// The average of no rows is NULL, as for every SQL avg().
	if (n == 0.0)
		PG_RETURN_NULL();

	int dim = StateDims(state);
	CheckDim(dim, E::kName);
	Vector *result = Init<E>(dim);
	auto *x = E::Values(result);
	for (int i = 0; i < dim; i++) {
		float value = static_cast<float>(sums[i + 1] / n);
		x[i] = E::Narrow(value);
		CheckElement(E::ToFloat(x[i]), E::kName);
	}
	PG_RETURN_POINTER(result);
}

} // namespace impl

} // namespace quiver::pg
