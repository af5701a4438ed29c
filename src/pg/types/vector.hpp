// The on-disk and in-memory form of `vector` and `halfvec`, identical to pgvector's: a varlena
// header, int16 dim, int16 unused (0), then dim float32 (vector) or binary16 (halfvec) values.
// Keeping pgvector's layout costs nothing and keeps a binary-level migration path open.
#pragma once

#include <cstddef>

#include "quiver/half.hpp"
#include "quiver/vector_text.hpp"
#include "../guard.hpp"

namespace quiver::pg {

struct Vector {
	int32 vl_len_; // varlena header (do not touch directly)
	int16 dim;
	int16 unused;
	// followed by float values[dim]
};
static_assert(sizeof(Vector) == 8, "vector header must stay 8 bytes: it is the on-disk format");

inline float *
VectorValues(Vector *v)
{
	return reinterpret_cast<float *>(v + 1);
}

inline const float *
VectorValues(const Vector *v)
{
	return reinterpret_cast<const float *>(v + 1);
}

inline constexpr std::size_t
VectorSize(int dim)
{
	return sizeof(Vector) + sizeof(float) * static_cast<std::size_t>(dim);
}

inline Vector *
DatumGetVector(Datum d)
{
	return reinterpret_cast<Vector *>(PG_DETOAST_DATUM(d));
}

// A halfvec has the same header; its values are binary16.
inline core::Half *
HalfvecValues(Vector *v)
{
	return reinterpret_cast<core::Half *>(v + 1);
}

inline const core::Half *
HalfvecValues(const Vector *v)
{
	return reinterpret_cast<const core::Half *>(v + 1);
}

inline constexpr int kVectorMaxDim = core::kVectorMaxDim;

// A zero-filled vector of dim values in the current memory context.
Vector *InitVector(int dim);

// The checks below raise pgvector's messages and SQLSTATEs; `type` names the SQL type in them.
void CheckDim(int dim, const char *type = "vector");
void CheckExpectedDim(int32 typmod, int dim);
void CheckSameDims(const Vector *a, const Vector *b, const char *type = "vector");
void CheckElement(float value, const char *type = "vector");

} // namespace quiver::pg

#define PG_GETARG_VECTOR_P(n) (::quiver::pg::DatumGetVector(PG_GETARG_DATUM(n)))
