// The on-disk and in-memory form of `vector`, identical to pgvector's: a varlena header,
// int16 dim, int16 unused (0), then dim float32 values. Keeping pgvector's layout costs
// nothing and keeps a binary-level migration path open.
#pragma once

#include <cstddef>

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

inline constexpr int kVectorMaxDim = core::kVectorMaxDim;

// A zero-filled vector of dim values in the current memory context.
Vector *InitVector(int dim);

// The checks below raise pgvector's messages and SQLSTATEs.
void CheckDim(int dim);
void CheckExpectedDim(int32 typmod, int dim);
void CheckSameDims(const Vector *a, const Vector *b);
void CheckElement(float value);

} // namespace quiver::pg

#define PG_GETARG_VECTOR_P(n) (::quiver::pg::DatumGetVector(PG_GETARG_DATUM(n)))
