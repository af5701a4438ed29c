// The `halfvec` type: half-precision (IEEE binary16) storage, pgvector's formats, names and
// messages. Values are computed in float32 (vector_impl.hpp), so a halfvec distance equals the
// `vector` distance of the same values.
#include "vector_impl.hpp"

using namespace quiver::pg;
using H = quiver::pg::F16Elements;
using F = quiver::pg::F32Elements;

QUIVER_FUNCTION(halfvec_in) { return impl::In<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_out) { return impl::Out<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_typmod_in) { return impl::TypmodIn<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_recv) { return impl::Recv<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_send) { return impl::Send<H>(fcinfo); }

QUIVER_FUNCTION(halfvec) { return impl::TypmodCast(fcinfo); }
QUIVER_FUNCTION(array_to_halfvec) { return impl::FromArray<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_to_float4) { return impl::ToFloat4Array<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_to_vector) { return impl::Convert<H, F>(fcinfo); }
QUIVER_FUNCTION(vector_to_halfvec) { return impl::Convert<F, H>(fcinfo); }

QUIVER_FUNCTION(halfvec_l2_distance) { return impl::L2Distance<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_l2_squared_distance) { return impl::L2SquaredDistance<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_inner_product) { return impl::InnerProduct<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_negative_inner_product) { return impl::NegativeInnerProduct<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_cosine_distance) { return impl::CosineDistance<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_spherical_distance) { return impl::SphericalDistance<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_l1_distance) { return impl::L1Distance<H>(fcinfo); }

QUIVER_FUNCTION(halfvec_vector_dims) { return impl::Dims(fcinfo); }
QUIVER_FUNCTION(halfvec_l2_norm) { return impl::Norm<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_l2_normalize) { return impl::Normalize<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_binary_quantize) { return impl::BinaryQuantize<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_subvector) { return impl::Subvector<H>(fcinfo); }

QUIVER_FUNCTION(halfvec_add) { return impl::Add<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_sub) { return impl::Sub<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_mul) { return impl::Mul<H>(fcinfo); }
QUIVER_FUNCTION(halfvec_concat) { return impl::Concat<H>(fcinfo); }

QUIVER_FUNCTION(halfvec_lt) { PG_RETURN_BOOL(impl::CompareArgs<H>(fcinfo) < 0); }
QUIVER_FUNCTION(halfvec_le) { PG_RETURN_BOOL(impl::CompareArgs<H>(fcinfo) <= 0); }
QUIVER_FUNCTION(halfvec_eq) { PG_RETURN_BOOL(impl::CompareArgs<H>(fcinfo) == 0); }
QUIVER_FUNCTION(halfvec_ne) { PG_RETURN_BOOL(impl::CompareArgs<H>(fcinfo) != 0); }
QUIVER_FUNCTION(halfvec_ge) { PG_RETURN_BOOL(impl::CompareArgs<H>(fcinfo) >= 0); }
QUIVER_FUNCTION(halfvec_gt) { PG_RETURN_BOOL(impl::CompareArgs<H>(fcinfo) > 0); }
QUIVER_FUNCTION(halfvec_cmp) { PG_RETURN_INT32(impl::CompareArgs<H>(fcinfo)); }

QUIVER_FUNCTION(halfvec_accum) { return impl::Accum<H>(fcinfo, "halfvec_accum"); }
QUIVER_FUNCTION(halfvec_combine) { return impl::Combine<H>(fcinfo, "halfvec_combine"); }
QUIVER_FUNCTION(halfvec_avg) { return impl::Avg<H>(fcinfo, "halfvec_avg"); }
