// libFuzzer target for halfvec text input: the shared parser with the half-precision limit,
// then the conversion halfvec_in applies. Whatever parses must convert to finite halves, and
// formatting those halves (as halfvec_out does) must parse back to the same halves.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "quiver/half.hpp"
#include "quiver/vector_text.hpp"

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace quiver::core;

	std::vector<char> text(data, data + size);
	text.push_back('\0');

	for (int max_dim : {4, kVectorMaxDim}) {
		std::vector<float> values(static_cast<std::size_t>(max_dim));
		VectorTextResult r = ParseVectorText(text.data(), values.data(), max_dim, 65520.0f);
		if (r.status == VectorTextStatus::OutOfRange) {
			if (r.token_begin + r.token_len > std::strlen(text.data()) || r.token_len == 0)
				std::abort();
		}
		if (r.status != VectorTextStatus::Ok)
			continue;

		std::vector<Half> halves(static_cast<std::size_t>(r.dim));
		std::vector<float> widened(static_cast<std::size_t>(r.dim));
		for (int i = 0; i < r.dim; i++) {
			halves[i] = FloatToHalf(values[i]);
			if (!HalfIsFinite(halves[i]))
				std::abort(); // the limit must keep every accepted value finite at half precision
			widened[i] = HalfToFloat(halves[i]);
		}

		std::vector<char> out(VectorTextCapacity(r.dim));
		FormatVectorText(widened.data(), r.dim, out.data());
		std::vector<float> again(static_cast<std::size_t>(max_dim));
		VectorTextResult r2 = ParseVectorText(out.data(), again.data(), max_dim, 65520.0f);
		if (r2.status != VectorTextStatus::Ok || r2.dim != r.dim)
			std::abort();
		for (int i = 0; i < r.dim; i++) {
			if (FloatToHalf(again[i]) != halves[i])
				std::abort();
		}
	}
	return 0;
}
