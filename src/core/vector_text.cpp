#include "quiver/vector_text.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "quiver/float_format.hpp"

namespace quiver::core {

namespace {

VectorTextResult
Fail(VectorTextStatus status)
{
	return VectorTextResult{status, 0, 0, 0};
}

const char *
SkipSpace(const char *p)
{
	while (IsVectorSpace(*p))
		p++;
	return p;
}

} // namespace

VectorTextResult
ParseVectorText(const char *text, float *out, int max_dim, float limit) noexcept
{
	const char *p = SkipSpace(text);
	if (*p != '[')
		return Fail(VectorTextStatus::MissingOpenBracket);
	p = SkipSpace(p + 1);
	if (*p == ']')
		return Fail(VectorTextStatus::NoDimensions);

	int dim = 0;
	for (;;) {
		if (dim == max_dim)
			return Fail(VectorTextStatus::TooManyDimensions);
		p = SkipSpace(p);
		// strtof would skip leading whitespace itself and accept an empty tail; reject first.
		if (*p == '\0')
			return Fail(VectorTextStatus::Syntax);

		// strtof, not strtod: reading through double and narrowing rounds twice. The server runs
		// with LC_NUMERIC=C, so the decimal point is always '.'.
		char *end = nullptr;
		errno = 0;
		float value = std::strtof(p, &end);
		if (end == p)
			return Fail(VectorTextStatus::Syntax);
		if ((errno == ERANGE && std::isinf(value)) || (std::isfinite(value) && std::fabs(value) >= limit))
			return VectorTextResult{VectorTextStatus::OutOfRange, 0, static_cast<std::size_t>(p - text),
			                        static_cast<std::size_t>(end - p)};
		if (std::isnan(value))
			return Fail(VectorTextStatus::NaNValue);
		if (std::isinf(value))
			return Fail(VectorTextStatus::InfiniteValue);
		out[dim++] = value;

		p = SkipSpace(end);
		if (*p == ',') {
			p++;
		} else if (*p == ']') {
			p++;
			break;
		} else {
			return Fail(VectorTextStatus::Syntax);
		}
	}

	p = SkipSpace(p);
	if (*p != '\0')
		return Fail(VectorTextStatus::JunkAfterBracket);
	return VectorTextResult{VectorTextStatus::Ok, dim, 0, 0};
}

std::size_t
VectorTextCapacity(int dim) noexcept
{
	// Each value takes at most kFloatTextMax - 1 bytes plus a separator; then "[", "]" and NUL.
	return static_cast<std::size_t>(dim) * kFloatTextMax + 3;
}

std::size_t
FormatVectorText(const float *values, int dim, char *out) noexcept
{
	char *p = out;
	*p++ = '[';
	for (int i = 0; i < dim; i++) {
		if (i > 0)
			*p++ = ',';
		p += FormatFloatShortest(values[i], p);
	}
	*p++ = ']';
	*p = '\0';
	return static_cast<std::size_t>(p - out);
}

} // namespace quiver::core
