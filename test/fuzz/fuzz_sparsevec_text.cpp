// libFuzzer target for the sparsevec text codec: parse arbitrary text; whatever parses and
// passes the index checks must hold finite non-zero values with sorted in-range indices, and
// must format to text that parses back to the same vector.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "quiver/sparse.hpp"

namespace {

bool
Parse(const std::string &text, int *dim, std::vector<std::int32_t> *idx, std::vector<float> *val)
{
	using namespace quiver::core;
	std::size_t cap = SparseTextMaxEntries(text.c_str());
	idx->assign(cap, 0);
	val->assign(cap, 0.0f);
	SparseTextResult r = ParseSparseText(text.c_str(), idx->data(), val->data());
	if (r.status != SparseTextStatus::Ok)
		return false;
	if (cap > static_cast<std::size_t>(kSparseMaxNnz) || r.nnz < 0 || static_cast<std::size_t>(r.nnz) > cap)
		std::abort();
	if (r.dim < 1 || r.dim > kSparseMaxDim)
		return false;
	if (SortSparseEntries(idx->data(), val->data(), r.nnz, r.dim) != SparseIndexStatus::Ok)
		return false;
	idx->resize(static_cast<std::size_t>(r.nnz));
	val->resize(static_cast<std::size_t>(r.nnz));
	*dim = r.dim;
	return true;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace quiver::core;
	std::string text(reinterpret_cast<const char *>(data), size);
	text = text.c_str(); // the server hands over NUL-terminated strings

	int dim = 0;
	std::vector<std::int32_t> idx;
	std::vector<float> val;
	if (!Parse(text, &dim, &idx, &val))
		return 0;
	for (std::size_t i = 0; i < idx.size(); i++) {
		if (idx[i] < 0 || idx[i] >= dim || (i > 0 && idx[i] <= idx[i - 1]))
			std::abort();
		if (!std::isfinite(val[i]) || val[i] == 0)
			std::abort();
	}

	SparseView v{dim, static_cast<int>(idx.size()), idx.data(), val.data()};
	std::string out(SparseTextCapacity(v.nnz), '\0');
	std::size_t n = FormatSparseText(v, out.data());
	if (n >= out.size())
		std::abort();
	out.resize(n);
	int dim2 = 0;
	std::vector<std::int32_t> idx2;
	std::vector<float> val2;
	if (!Parse(out, &dim2, &idx2, &val2) || dim2 != dim || idx2 != idx || val2 != val)
		std::abort();
	return 0;
}
