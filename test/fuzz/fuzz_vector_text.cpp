// libFuzzer target for the vector text codec: parse arbitrary bytes; whatever parses must
// format and parse back to identical floats, and the formatted text must fit the capacity
// the formatter promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "quiver/vector_text.hpp"

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace quiver::core;

	// vector_in receives a NUL-terminated C string; bytes after an embedded NUL are unseen.
	std::vector<char> text(data, data + size);
	text.push_back('\0');

	// Small and full limits both: the dimension cap is a separate code path.
	for (int max_dim : {4, kVectorMaxDim}) {
		std::vector<float> values(static_cast<std::size_t>(max_dim));
		VectorTextResult r = ParseVectorText(text.data(), values.data(), max_dim);
		if (r.status == VectorTextStatus::OutOfRange) {
			if (r.token_begin + r.token_len > std::strlen(text.data()) || r.token_len == 0)
				std::abort();
		}
		if (r.status != VectorTextStatus::Ok)
			continue;
		if (r.dim < 1 || r.dim > max_dim)
			std::abort();

		std::size_t capacity = VectorTextCapacity(r.dim);
		std::vector<char> out(capacity);
		std::size_t len = FormatVectorText(values.data(), r.dim, out.data());
		if (len + 1 > capacity || out[len] != '\0')
			std::abort();

		std::vector<float> again(static_cast<std::size_t>(max_dim));
		VectorTextResult r2 = ParseVectorText(out.data(), again.data(), max_dim);
		if (r2.status != VectorTextStatus::Ok || r2.dim != r.dim)
			std::abort();
		if (std::memcmp(values.data(), again.data(), sizeof(float) * static_cast<std::size_t>(r.dim)) != 0)
			std::abort();
	}
	return 0;
}
