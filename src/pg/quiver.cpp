// Module entry: load-time initialisation and the functions that describe the build.
#include "quiver/error.hpp"
#include "quiver/kernels.hpp"
#include "hnsw/hnsw.hpp"
#include "ivf/ivf.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/guc.h"
}

#ifndef QUIVER_VERSION
#error "QUIVER_VERSION must be defined by the build"
#endif

extern "C" {
PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

extern "C" void
_PG_init(void)
{
	// Kernels are chosen once per backend; QUIVER_KERNEL_LEVEL (read from the server's
	// environment) can force a lower level to reproduce what users on older CPUs get.
	quiver::pg::hnsw::HnswInit();
	quiver::pg::ivf::IvfInit();
	// After every quiver.* setting is defined: a placeholder for one set before the library
	// loaded is then kept, and unknown quiver.* names are rejected.
	MarkGUCPrefixReserved("quiver");

	bool ignored_request = false;
	quiver::core::InitKernels(&ignored_request);
	if (ignored_request)
		ereport(WARNING, (errmsg("QUIVER_KERNEL_LEVEL names a kernel level that is unknown or not supported here"),
		                  errdetail("Using \"%s\".", quiver::core::KernelLevelName(quiver::core::ActiveKernels().level))));
}

QUIVER_FUNCTION(quiver_version)
{
	PG_RETURN_TEXT_P(cstring_to_text(QUIVER_VERSION));
}

QUIVER_FUNCTION(quiver_kernel_level)
{
	PG_RETURN_TEXT_P(cstring_to_text(quiver::core::KernelLevelName(quiver::core::ActiveKernels().level)));
}

// Throws a C++ exception from the core on purpose, to prove on a live server that the
// boundary turns every kind into an ERROR and that the session carries on afterwards.
QUIVER_FUNCTION(quiver_selftest_raise)
{
	char *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	quiver::core::ThrowForSelfTest(kind);
}
