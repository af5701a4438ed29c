// Distances on PostgreSQL's own `bit` type (pgvector's names and messages): Hamming and
// Jaccard, for binary-quantized embeddings (binary_quantize(vector) returns bit).
#include "quiver/bits.hpp"
#include "../guard.hpp"

extern "C" {
#include "utils/varbit.h"
}

namespace {

void
CheckSameLength(const VarBit *a, const VarBit *b)
{
	if (VARBITLEN(a) != VARBITLEN(b))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
		                errmsg("different bit lengths %u and %u", static_cast<unsigned>(VARBITLEN(a)),
		                       static_cast<unsigned>(VARBITLEN(b)))));
}

} // namespace

// The padding bits of a bit string's last byte are zero (PostgreSQL keeps them so), so whole
// bytes can be counted.
QUIVER_FUNCTION(hamming_distance)
{
	VarBit *a = PG_GETARG_VARBIT_P(0);
	VarBit *b = PG_GETARG_VARBIT_P(1);
	CheckSameLength(a, b);
	std::uint64_t d = quiver::core::ActiveBitKernels().hamming(VARBITS(a), VARBITS(b), VARBITBYTES(a));
	PG_RETURN_FLOAT8(static_cast<double>(d));
}

QUIVER_FUNCTION(jaccard_distance)
{
	VarBit *a = PG_GETARG_VARBIT_P(0);
	VarBit *b = PG_GETARG_VARBIT_P(1);
	CheckSameLength(a, b);
	auto counts = quiver::core::ActiveBitKernels().jaccard(VARBITS(a), VARBITS(b), VARBITBYTES(a));
	PG_RETURN_FLOAT8(quiver::core::JaccardDistance(counts));
}
