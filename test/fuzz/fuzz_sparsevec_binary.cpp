// libFuzzer target for the sparsevec binary codec: decode arbitrary bytes; whatever decodes
// (with the header checks the SQL layer applies) must hold sorted in-range indices and finite
// non-zero values, and re-encode to exactly the bytes consumed.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "quiver/sparse.hpp"

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace quiver::core;
	std::vector<std::uint8_t> input(data, data + size);

	SparseBinaryHeader h{};
	if (!ReadSparseBinaryHeader(input.data(), input.size(), &h))
		return 0;
	if (h.dim < 1 || h.dim > kSparseMaxDim || h.nnz < 0 || h.nnz > kSparseMaxNnz || h.nnz > h.dim || h.unused != 0)
		return 0;
	std::vector<std::int32_t> idx(static_cast<std::size_t>(h.nnz));
	std::vector<float> val(static_cast<std::size_t>(h.nnz));
	std::size_t consumed = 0;
	SparseBinaryStatus st = ParseSparseBinaryBody(input.data() + kSparseBinaryHeaderSize,
	                                              input.size() - kSparseBinaryHeaderSize, h.dim, h.nnz, idx.data(),
	                                              val.data(), &consumed);
	if (st != SparseBinaryStatus::Ok)
		return 0;
	if (consumed + kSparseBinaryHeaderSize != SparseBinarySize(h.nnz) || SparseBinarySize(h.nnz) > input.size())
		std::abort();
	for (std::size_t i = 0; i < idx.size(); i++) {
		if (idx[i] < 0 || idx[i] >= h.dim || (i > 0 && idx[i] <= idx[i - 1]))
			std::abort();
		if (!std::isfinite(val[i]) || val[i] == 0)
			std::abort();
	}
	std::vector<std::uint8_t> encoded(SparseBinarySize(h.nnz));
	WriteSparseBinary(SparseView{h.dim, h.nnz, idx.data(), val.data()}, encoded.data());
	if (std::memcmp(encoded.data(), input.data(), encoded.size()) != 0)
		std::abort();
	return 0;
}
