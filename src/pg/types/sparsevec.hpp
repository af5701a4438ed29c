// The on-disk and in-memory form of `sparsevec`, identical to pgvector's: a varlena header,
// int32 dim, int32 nnz, int32 unused (0), nnz int32 0-based indices in ascending order, then
// nnz float32 values, none of them zero.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quiver/sparse.hpp"
#include "../guard.hpp"

namespace quiver::pg {

struct SparseVector {
	int32 vl_len_; // varlena header (do not touch directly)
	int32 dim;
	int32 nnz;
	int32 unused;
	// followed by int32 indices[nnz], then float values[nnz]
};
static_assert(sizeof(SparseVector) == 16, "sparsevec header must stay 16 bytes: it is the on-disk format");

inline constexpr std::size_t
SparseVectorSize(int nnz)
{
	return sizeof(SparseVector) + (sizeof(int32) + sizeof(float)) * static_cast<std::size_t>(nnz);
}

inline int32 *
SparseIndices(SparseVector *v)
{
	return reinterpret_cast<int32 *>(v + 1);
}

inline const int32 *
SparseIndices(const SparseVector *v)
{
	return reinterpret_cast<const int32 *>(v + 1);
}

inline float *
SparseValues(SparseVector *v)
{
	return reinterpret_cast<float *>(SparseIndices(v) + v->nnz);
}

inline const float *
SparseValues(const SparseVector *v)
{
	return reinterpret_cast<const float *>(SparseIndices(v) + v->nnz);
}

inline core::SparseView
ViewOf(const SparseVector *v)
{
	return core::SparseView{v->dim, v->nnz, SparseIndices(v), SparseValues(v)};
}

inline SparseVector *
DatumGetSparseVector(Datum d)
{
	return reinterpret_cast<SparseVector *>(PG_DETOAST_DATUM(d));
}

// A sparse vector of dim dimensions with room for nnz entries, zero-filled.
SparseVector *InitSparseVector(int dim, int nnz);

} // namespace quiver::pg

#define PG_GETARG_SPARSEVEC_P(n) (::quiver::pg::DatumGetSparseVector(PG_GETARG_DATUM(n)))
