// The `sparsevec` type's pure parts: text and binary codecs, merge distances and ordering.
//
// A sparse vector is (dim, nnz, indices[nnz], values[nnz]) with 0-based indices in strictly
// ascending order and no zero values: pgvector's invariants, which every function here assumes
// of its inputs and the parsers establish for their outputs. The text form is 1-based,
// "{1:1.5,3:2}/5"; the binary form is pgvector's (int32 dim, int32 nnz, int32 unused = 0, nnz
// int32 0-based indices, nnz float32 values, network byte order).
//
// As in vector_text.hpp, parsers return a status instead of throwing: the SQL layer maps each
// status to pgvector's message and SQLSTATE, in pgvector's order of checks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace quiver::core {

inline constexpr int kSparseMaxDim = 1000000000;
inline constexpr int kSparseMaxNnz = 16000;

struct SparseView {
	int dim;
	int nnz;
	const std::int32_t *indices;
	const float *values;
};

// The packed form of a sparse vector in one buffer: int32 dim, int32 nnz, nnz int32 indices,
// nnz float32 values (8 + 8 * nnz bytes, 4-byte aligned). Index pages and the graph builder
// both keep sparse vectors so.
inline SparseView
PackedSparseView(const void *packed) noexcept
{
	const auto *h = static_cast<const std::int32_t *>(packed);
	return SparseView{h[0], h[1], h + 2, reinterpret_cast<const float *>(h + 2 + h[1])};
}

inline std::size_t
PackedSparseBytes(int nnz) noexcept
{
	return 8 + 8 * static_cast<std::size_t>(nnz);
}

/* ---------- text ---------- */

enum class SparseTextStatus {
	Ok,
	TooManyElements,  // more than kSparseMaxNnz entries could be present (commas + 1)
	MissingOpenBrace, // text does not start with '{' (after whitespace)
	Syntax,           // anything else malformed
	UnexpectedEnd,    // no "/dim" after the closing brace
	JunkAfterClosing, // non-whitespace after the dimension
	OutOfRange,       // a value that overflows float32 or underflows to 0; token_* names it
	NaNValue,
	InfiniteValue,
};

struct SparseTextResult {
	SparseTextStatus status;
	int dim;                 // as written, clamped to the int range (valid when Ok)
	int nnz;                 // entries stored (zeros are dropped), in input order (valid when Ok)
	std::size_t token_begin; // the offending number (OutOfRange only)
	std::size_t token_len;
};

// Upper bound of the entries text can hold (its commas + 1): the capacity to give the parser.
std::size_t SparseTextMaxEntries(const char *text) noexcept;

// Parses NUL-terminated text. indices/values need room for SparseTextMaxEntries(text) entries
// (at most kSparseMaxNnz: beyond it the status is TooManyElements before anything else).
// Entries come out in input order with 0-based indices, clamped so that out-of-range indices
// stay out of range; the caller checks dim, then calls SortSparseEntries.
SparseTextResult ParseSparseText(const char *text, std::int32_t *indices, float *values) noexcept;

enum class SparseIndexStatus { Ok, OutOfBounds, NotAscending, Duplicate };

// Sorts entries by index (values follow), then checks indices are within [0, dim) and distinct,
// reporting the first problem in sorted order.
SparseIndexStatus SortSparseEntries(std::int32_t *indices, float *values, int nnz, int dim) noexcept;

// Checks indices already in order, as the binary format requires: the status for entry i given
// entries 0..i-1 were fine.
SparseIndexStatus CheckSparseIndex(const std::int32_t *indices, int i, int dim) noexcept;

// Bytes needed to format v, including braces, separators and a terminating NUL.
std::size_t SparseTextCapacity(int nnz) noexcept;
// Formats v as "{i:v,...}/dim" (1-based) followed by NUL; returns the length without the NUL.
std::size_t FormatSparseText(const SparseView &v, char *out) noexcept;

/* ---------- binary ---------- */

enum class SparseBinaryStatus {
	Ok,
	Truncated,
	// Header problems, reported by the caller with pgvector's checks (dim, then nnz, then typmod,
	// then the unused field); the header parser only reads.
	IndexOutOfBounds,
	IndicesNotAscending,
	DuplicateIndex,
	NaNValue,
	InfiniteValue,
	ZeroValue,
};

struct SparseBinaryHeader {
	std::int32_t dim;
	std::int32_t nnz;
	std::int32_t unused;
};

inline constexpr std::size_t kSparseBinaryHeaderSize = 12;

inline constexpr std::size_t
SparseBinarySize(int nnz) noexcept
{
	return kSparseBinaryHeaderSize + 8 * static_cast<std::size_t>(nnz);
}

// Reads the header; false when len is too short for it.
bool ReadSparseBinaryHeader(const std::uint8_t *data, std::size_t len, SparseBinaryHeader *out) noexcept;

// Reads nnz indices then nnz values from the bytes after the header, checking each as it is
// read (pgvector's order). consumed receives the bytes read after the header on success.
SparseBinaryStatus ParseSparseBinaryBody(const std::uint8_t *data, std::size_t len, int dim, int nnz,
                                         std::int32_t *indices, float *values, std::size_t *consumed) noexcept;

// Writes v's binary form (SparseBinarySize(v.nnz) bytes).
void WriteSparseBinary(const SparseView &v, std::uint8_t *out) noexcept;

/* ---------- distances ---------- */

// Merge kernels over the union of indices, accumulating in float in index order (as pgvector
// does, so results match it bit for bit). Dimensions are the caller's business.
float SparseInnerProduct(const SparseView &a, const SparseView &b) noexcept;
float SparseL2Squared(const SparseView &a, const SparseView &b) noexcept;
float SparseL1(const SparseView &a, const SparseView &b) noexcept;
// Sum of squares in float (for cosine, as pgvector) and in double (for l2_norm and normalize).
float SparseNormSquared(const SparseView &a) noexcept;
double SparseNormSquaredDouble(const SparseView &a) noexcept;

// Total order equal to comparing the dense forms: element by element over the common
// dimensions, then by dimension. Returns -1, 0 or 1.
int SparseCompare(const SparseView &a, const SparseView &b) noexcept;

} // namespace quiver::core

#include "quiver/core_only.hpp"
