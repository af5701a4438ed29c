// libFuzzer target for the vector binary codec: decode arbitrary bytes with and without a
// typmod; whatever decodes must re-encode to exactly the bytes consumed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "quiver/vector_binary.hpp"
#include "quiver/vector_text.hpp"

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace quiver::core;

	// Copy so that reads past the end are caught by AddressSanitizer, not by luck.
	std::vector<std::uint8_t> input(data, data + size);
	std::vector<float> values(static_cast<std::size_t>(kVectorMaxDim));

	for (int expected_dim : {-1, 3}) {
		VectorBinaryResult r = ParseVectorBinary(input.data(), input.size(), expected_dim, values.data(), kVectorMaxDim);
		if (r.status != VectorBinaryStatus::Ok)
			continue;
		if (r.dim < 1 || r.dim > kVectorMaxDim || (expected_dim >= 0 && r.dim != expected_dim))
			std::abort();
		if (r.consumed != VectorBinarySize(r.dim) || r.consumed > input.size())
			std::abort();

		std::vector<std::uint8_t> encoded(VectorBinarySize(r.dim));
		WriteVectorBinary(values.data(), r.dim, encoded.data());
		if (std::memcmp(encoded.data(), input.data(), encoded.size()) != 0)
			std::abort();
	}
	return 0;
}
