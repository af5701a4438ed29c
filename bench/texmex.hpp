// Reading TEXMEX .fvecs files (each row: an int32 dimension, then that many float32 values)
// for the core benchmarks.
#pragma once

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace quiver::bench {

// The first max_rows rows of path, back to back; *dim is set to their dimension.
inline std::vector<float>
ReadFvecs(const std::string &path, std::size_t max_rows, std::size_t *dim)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot open " + path);
	std::vector<float> out;
	std::int32_t d = 0;
	std::size_t rows = 0;
	while (rows < max_rows && in.read(reinterpret_cast<char *>(&d), sizeof d)) {
		std::size_t at = out.size();
		out.resize(at + static_cast<std::size_t>(d));
		in.read(reinterpret_cast<char *>(out.data() + at),
		        static_cast<std::streamsize>(sizeof(float) * static_cast<std::size_t>(d)));
		rows++;
	}
	*dim = static_cast<std::size_t>(d);
	return out;
}

} // namespace quiver::bench
