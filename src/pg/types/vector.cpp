// The `vector` type: I/O, typmod, casts, distance functions and operators, arithmetic,
// comparisons and aggregate support, with pgvector's names, semantics and messages. The bodies
// are shared with `halfvec` (vector_impl.hpp); this file holds the checks both use and the
// fmgr entry points of `vector`.
#include "vector_impl.hpp"

namespace quiver::pg {

Vector *
InitVector(int dim)
{
	return impl::Init<F32Elements>(dim);
}

void
CheckDim(int dim, const char *type)
{
	if (dim < 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("%s must have at least 1 dimension", type)));
	if (dim > kVectorMaxDim)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("%s cannot have more than %d dimensions", type, kVectorMaxDim)));
}

void
CheckExpectedDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected %d dimensions, not %d", typmod, dim)));
}

void
CheckSameDims(const Vector *a, const Vector *b, const char *type)
{
	if (a->dim != b->dim)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
		                errmsg("different %s dimensions %d and %d", type, a->dim, b->dim)));
}

void
CheckElement(float value, const char *type)
{
	if (std::isnan(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("NaN not allowed in %s", type)));
	if (std::isinf(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("infinite value not allowed in %s", type)));
}

} // namespace quiver::pg

using namespace quiver::pg;
using E = quiver::pg::F32Elements;

QUIVER_FUNCTION(vector_in) { return impl::In<E>(fcinfo); }
QUIVER_FUNCTION(vector_out) { return impl::Out<E>(fcinfo); }
QUIVER_FUNCTION(vector_typmod_in) { return impl::TypmodIn<E>(fcinfo); }
QUIVER_FUNCTION(vector_recv) { return impl::Recv<E>(fcinfo); }
QUIVER_FUNCTION(vector_send) { return impl::Send<E>(fcinfo); }

QUIVER_FUNCTION(vector) { return impl::TypmodCast(fcinfo); }
QUIVER_FUNCTION(array_to_vector) { return impl::FromArray<E>(fcinfo); }
QUIVER_FUNCTION(vector_to_float4) { return impl::ToFloat4Array<E>(fcinfo); }

QUIVER_FUNCTION(l2_distance) { return impl::L2Distance<E>(fcinfo); }
QUIVER_FUNCTION(vector_l2_squared_distance) { return impl::L2SquaredDistance<E>(fcinfo); }
QUIVER_FUNCTION(inner_product) { return impl::InnerProduct<E>(fcinfo); }
QUIVER_FUNCTION(vector_negative_inner_product) { return impl::NegativeInnerProduct<E>(fcinfo); }
QUIVER_FUNCTION(cosine_distance) { return impl::CosineDistance<E>(fcinfo); }
QUIVER_FUNCTION(vector_spherical_distance) { return impl::SphericalDistance<E>(fcinfo); }
QUIVER_FUNCTION(l1_distance) { return impl::L1Distance<E>(fcinfo); }

QUIVER_FUNCTION(vector_dims) { return impl::Dims(fcinfo); }
QUIVER_FUNCTION(vector_norm) { return impl::Norm<E>(fcinfo); }
QUIVER_FUNCTION(l2_normalize) { return impl::Normalize<E>(fcinfo); }
QUIVER_FUNCTION(binary_quantize) { return impl::BinaryQuantize<E>(fcinfo); }
QUIVER_FUNCTION(subvector) { return impl::Subvector<E>(fcinfo); }

QUIVER_FUNCTION(vector_add) { return impl::Add<E>(fcinfo); }
QUIVER_FUNCTION(vector_sub) { return impl::Sub<E>(fcinfo); }
QUIVER_FUNCTION(vector_mul) { return impl::Mul<E>(fcinfo); }
QUIVER_FUNCTION(vector_concat) { return impl::Concat<E>(fcinfo); }

QUIVER_FUNCTION(vector_lt) { PG_RETURN_BOOL(impl::CompareArgs<E>(fcinfo) < 0); }
QUIVER_FUNCTION(vector_le) { PG_RETURN_BOOL(impl::CompareArgs<E>(fcinfo) <= 0); }
QUIVER_FUNCTION(vector_eq) { PG_RETURN_BOOL(impl::CompareArgs<E>(fcinfo) == 0); }
QUIVER_FUNCTION(vector_ne) { PG_RETURN_BOOL(impl::CompareArgs<E>(fcinfo) != 0); }
QUIVER_FUNCTION(vector_ge) { PG_RETURN_BOOL(impl::CompareArgs<E>(fcinfo) >= 0); }
QUIVER_FUNCTION(vector_gt) { PG_RETURN_BOOL(impl::CompareArgs<E>(fcinfo) > 0); }
QUIVER_FUNCTION(vector_cmp) { PG_RETURN_INT32(impl::CompareArgs<E>(fcinfo)); }

QUIVER_FUNCTION(vector_accum) { return impl::Accum<E>(fcinfo, "vector_accum"); }
QUIVER_FUNCTION(vector_combine) { return impl::Combine<E>(fcinfo, "vector_combine"); }
QUIVER_FUNCTION(vector_avg) { return impl::Avg<E>(fcinfo, "vector_avg"); }
