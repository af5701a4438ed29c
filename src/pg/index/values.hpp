// The vectors an index stores, shared by the hnsw and ivfflat access methods: which type and
// metric an index column has (read from its opclass), the "stored" form of each type, and the
// distance between two stored vectors.
//
// Vectors travel through index code in the column's own format ("stored vectors", passed as
// void pointers): float32 for vector, binary16 for halfvec, packed bits for bit (rounded up
// to whole 8-byte words), and for sparsevec its dimensions, non-zero count, indices and values
// (StoredSparse). Only in-memory builds widen them to float32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quiver/metric.hpp"
#include "quiver/sparse.hpp"
#include "quiver/sq8.hpp"
#include "../types/vector.hpp"
#include "../types/sparsevec.hpp"

extern "C" {
#include "utils/relcache.h"
}

namespace quiver::pg {

// Support function numbers of the opclasses: 1 names the distance (and so the kernel), 2, the
// norm, marks cosine (vectors are normalized when stored and searched).
inline constexpr int kIndexDistanceProc = 1;
inline constexpr int kIndexNormProc = 2;

// Largest dimensions an index accepts per value format (as pgvector: a stored vector must fit
// one page with its tuple header).
inline constexpr int kIndexMaxDim = 2000;     // vector (float32)
inline constexpr int kIndexMaxHalfDim = 4000; // halfvec (binary16)
inline constexpr int kIndexMaxBitDim = 64000; // bit
// vector stored as per-vector 8-bit codes (hnsw's quantizer = 'sq8'): the element tuple,
// 16 + dims bytes of codes with its header and heap TIDs, fits a page up to about 8,050.
inline constexpr int kIndexMaxSq8Dim = 8000;
// ... as 4-bit codes (quantizer = 'sq4'): the vector type's own limit.
inline constexpr int kIndexMaxSq4Dim = 16000;

// IndexValues::value_size of sparsevec (see StoredSparse).
inline constexpr int kSparseValueSize = 8;
// IndexValues::value_size of per-vector 8-bit codes (core::Sq8VectorHeader, then the codes).
inline constexpr int kSq8ValueSize = 1;
// ... and of 4-bit codes (two a byte): a format code, not a size (no other format uses 3).
inline constexpr int kSq4ValueSize = 3;

// A stored sparsevec: the core's packed form (dimensions, non-zero count, then nnz 0-based
// ascending indices and nnz float32 values); 8 + 8 * nnz bytes, so what follows stays aligned.
struct StoredSparse {
	std::int32_t dim;
	std::int32_t nnz;
	// followed by: int32 indices[nnz]; float values[nnz];
};
static_assert(sizeof(StoredSparse) == 8);

inline std::size_t
StoredSparseBytes(int nnz)
{
	return core::PackedSparseBytes(nnz);
}

inline core::SparseView
StoredSparseView(const void *stored)
{
	return core::PackedSparseView(stored);
}

// The code width of kSq8ValueSize and kSq4ValueSize.
inline int
CodeBits(int value_size)
{
	return value_size == kSq4ValueSize ? 4 : 8;
}

// Bytes of a dense stored vector: value_size per dimension, or for bit strings (value_size 0)
// the bits rounded up to whole 8-byte words (zero-padded), which keeps what follows aligned
// and lets the popcount kernels work a word at a time.
inline std::size_t
StoredVectorBytes(int value_size, int dims)
{
	if (value_size == kSq8ValueSize || value_size == kSq4ValueSize)
		return core::CodedVectorBytes(CodeBits(value_size), static_cast<std::size_t>(dims));
	if (value_size == 0)
		return (static_cast<std::size_t>(dims) + 63) / 64 * 8;
	return static_cast<std::size_t>(value_size) * static_cast<std::size_t>(dims);
}

// How an index stores a column's values: as they are, or inexactly (hnsw's quantizer option:
// vector columns rounded or coded, sparsevec rows cut), in which case the index keeps an upper bound of each stored vector's
// error and re-ranks candidates by exact distances from the table (see IndexQuantizationError).
enum class IndexStorage : std::uint8_t {
	Exact, // the column's own format
	Half,  // binary16 (value_size 2)
	Sq8,   // per-vector 8-bit codes (value_size kSq8ValueSize; see core::CodedVectorEncode)
	Sq4,   // per-vector 4-bit codes (value_size kSq4ValueSize)
	// sparsevec rows of more than max_sparse_nnz non-zeros cut to their max_sparse_nnz entries
	// of largest magnitude (value_size kSparseValueSize); rows within the limit stay exact, and
	// queries are never cut (no query error)
	SparseTop,
};

// What an index column holds, read once per operation.
struct IndexValues {
	const char *am_name;      // "hnsw", "ivfflat": for messages
	core::Metric metric;
	int dims;                 // the column's typmod (-1 when it has none)
	int value_size;           // 4 (vector), 2 (halfvec), 0 (bit), kSparseValueSize (sparsevec),
	                          // kSq8ValueSize or kSq4ValueSize (vector stored as codes)
	std::size_t vector_bytes; // StoredVectorBytes(value_size, dims); for sparsevec the largest
	                          // stored vector (max_sparse_nnz non-zeros): buffer sizes
	int max_sparse_nnz;       // non-zeros a stored sparsevec may have
	// A vector (float32) column stored quantized: value_size is then the format of what the
	// index stores, while datums and queries arrive as float32.
	IndexStorage storage;
};

inline bool
IndexQuantized(const IndexValues *v)
{
	return v->storage != IndexStorage::Exact;
}

// Fills *out from the index's opclass and column: its distance support function's name gives
// the metric, its argument type the format. Unsupported types (varbit) are an ERROR naming
// am_name.
void DescribeIndexValues(Relation index, const char *am_name, int max_sparse_nnz, IndexValues *out);

// The largest number of dimensions the index's value format accepts.
int IndexMaxDims(const IndexValues *v);

// ERROR unless the column has dimensions within IndexMaxDims (pgvector's messages).
void CheckIndexDimensions(const IndexValues *v);

// Copies the values of a datum of the indexed type into out (vector_bytes), checking its
// dimensions against the column's (and a sparsevec's non-zero count against max_sparse_nnz).
// Quantized storage normalizes the vector first (cosine), then rounds it to half precision
// (clamped to the half range) or codes it; *rounding_error, when given, receives an upper
// bound of the distance between the normalized float32 vector and the stored one (see
// IndexQuantizationError); 0 for the exact formats.
void IndexDatumValues(const IndexValues *v, Datum datum, void *out, float *rounding_error = nullptr);

// Switches a float32 vector column's values to quantized storage (value_size, vector_bytes).
void IndexUseQuantizedStorage(IndexValues *v, IndexStorage storage);

// The same column as exact float32 values: for re-ranking a quantized index's candidates.
IndexValues IndexExactValues(const IndexValues *v);

// An upper bound of the distance between a float32 vector x and its quantized copy, in the
// norm the metric's lower bounds need (L1 for L1, Euclidean otherwise), rounded up.
float IndexQuantizationError(const IndexValues *v, const float *x, const void *stored);

// A query's stored vector, palloc'd; as IndexDatumValues but with no limit on a sparsevec's
// non-zero count (a query is never stored).
void *IndexQueryValues(const IndexValues *v, Datum datum);

// The bytes of a stored vector: vector_bytes, except for sparsevec.
std::size_t IndexStoredBytes(const IndexValues *v, const void *values);

// Normalizes a stored vector in place for cosine; false when the vector cannot be indexed
// (zero for cosine).
bool IndexPrepareVector(const IndexValues *v, void *values);

// The distance between two stored vectors: smaller is closer, in the SQL operator's order
// (squared L2 for <->, negative dot for <#>, 1 - dot of normalized vectors for <=>, L1 for
// <+>, bit counts for <~> and <%>).
float IndexDistance(const IndexValues *v, const void *a, const void *b);

// The SQL operator's own value for two stored vectors not prepared (IndexPrepareVector): for
// cosine 1 - a.b / (|a| |b|) as the <=> operator computes it (float sums, then double), which
// orders near ties as ORDER BY does where 1 - dot of normalized float32 vectors cannot (its
// granularity near 0 is 6e-8); otherwise IndexDistance. For re-ranking from the table.
float IndexOperatorDistance(const IndexValues *v, const void *a, const void *b);

// Stored vector <-> float32 (exact both ways for halves that came from the index; bit strings
// are copied into the floats' bytes as they are). A sparse vector's float form is a pointer to
// the stored vector (the hnsw builder's sparse mode); narrowing copies the vector it points to.
// Sq8 codes widen to the values they stand for and narrow by coding, which is not exact: an
// in-memory build keeps Sq8 columns' exact floats, and codes them once, when it writes.
void IndexWidenVector(const IndexValues *v, const void *in, float *out);
void IndexNarrowVector(const IndexValues *v, const float *in, void *out);

} // namespace quiver::pg
