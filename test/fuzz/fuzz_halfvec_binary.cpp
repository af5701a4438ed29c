// libFuzzer target for the halfvec binary codec: decode arbitrary bytes with and without a
// typmod; whatever decodes must hold only finite halves and re-encode to exactly the bytes
// consumed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "quiver/half.hpp"
#include "quiver/vector_binary.hpp"
#include "quiver/vector_text.hpp"

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace quiver::core;

	std::vector<std::uint8_t> input(data, data + size);
	std::vector<Half> values(static_cast<std::size_t>(kVectorMaxDim));

	for (int expected_dim : {-1, 3}) {
		VectorBinaryResult r = ParseHalfvecBinary(input.data(), input.size(), expected_dim, values.data(), kVectorMaxDim);
		if (r.status != VectorBinaryStatus::Ok)
			continue;
		if (r.dim < 1 || r.dim > kVectorMaxDim || (expected_dim >= 0 && r.dim != expected_dim))
			std::abort();
		if (r.consumed != HalfvecBinarySize(r.dim) || r.consumed > input.size())
			std::abort();
		for (int i = 0; i < r.dim; i++) {
			if (!HalfIsFinite(values[i]))
				std::abort();
		}

		std::vector<std::uint8_t> encoded(HalfvecBinarySize(r.dim));
		WriteHalfvecBinary(values.data(), r.dim, encoded.data());
		if (std::memcmp(encoded.data(), input.data(), encoded.size()) != 0)
			std::abort();
	}
	return 0;
}
