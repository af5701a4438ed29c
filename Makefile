# Quiver: PGXS builds the extension (src/pg, C++ in PostgreSQL's idiom); CMake builds the
# PostgreSQL-free core (src/core) as a static -fPIC library that the extension links.
#
#   make                 build the core library and quiver.so
#   make install         install into the PostgreSQL found by PG_CONFIG
#   make unit            core unit tests (GoogleTest via CTest)
#   make installcheck    pg_regress suite (sql/, expected/) against a running server
#   make pgtap           pgTAP suite (test/pgtap) with pg_prove against a running server
#   make prove           multi-server Perl TAP tests (test/t); run as a non-root user
#   make fuzz            build the libFuzzer targets (test/fuzz) with clang
#   make bench           build the benchmark programs (bench/)
# tools/test.sh runs all suites; tools/demo.sh installs, builds and runs the demo.

EXTENSION = quiver
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" quiver.control)

MODULE_big = quiver
OBJS = \
	src/pg/guard.o \
	src/pg/quiver.o \
	src/pg/types/vector.o \
	src/pg/types/halfvec.o \
	src/pg/types/bit.o \
	src/pg/types/sparsevec.o \
	src/pg/index/values.o \
	src/pg/index/am.o \
	src/pg/index/rerank.o \
	src/pg/hnsw/hnsw_handler.o \
	src/pg/hnsw/hnsw_graph.o \
	src/pg/hnsw/hnsw_build.o \
	src/pg/hnsw/hnsw_insert.o \
	src/pg/hnsw/hnsw_scan.o \
	src/pg/hnsw/hnsw_vacuum.o \
	src/pg/hnsw/hnsw_stats.o \
	src/pg/hnsw/hnsw_repair.o \
	src/pg/ivf/ivf_handler.o \
	src/pg/ivf/ivf_pages.o \
	src/pg/ivf/ivf_build.o \
	src/pg/ivf/ivf_insert.o \
	src/pg/ivf/ivf_scan.o \
	src/pg/ivf/ivf_vacuum.o \
	src/pg/ivf/ivf_stats.o \
	src/pg/shard/shard.o
DATA = $(wildcard quiver--*.sql)

REGRESS = $(shell cat schedule)
REGRESS_OPTS = --load-extension=$(EXTENSION)

PROVE_TESTS = test/t/*.pl
PROVE_FLAGS = -I ./test/perl

PG_CONFIG ?= pg_config
BUILD_DIR ?= build
CMAKE_BUILD_TYPE ?= RelWithDebInfo
CORE_LIB = $(BUILD_DIR)/core/libquiver_core.a

# Server headers are system headers for us: their warnings are not ours to fix, and -Wextra
# would otherwise drown ours in theirs.
PG_CPPFLAGS = -Iinclude -isystem $(shell $(PG_CONFIG) --includedir-server) -MMD -MP
PG_CXXFLAGS = -std=c++20 -fPIC -Wall -Wextra -Wno-missing-field-initializers
ifeq ($(WERROR),1)
PG_CXXFLAGS += -Werror
endif
SHLIB_LINK = $(CORE_LIB) -lstdc++

# Debian's PGXS would also compile every .cpp to LLVM bitcode with clang-14, without our
# -std flag; the JIT gains nothing from our code, so skip it.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The version string goes to one object only, so a version bump rebuilds one file.
src/pg/quiver.o: override CPPFLAGS += -DQUIVER_VERSION='"$(EXTVERSION)"'
src/pg/quiver.o: quiver.control

-include $(OBJS:.o=.d)

$(shlib): $(CORE_LIB)

.PHONY: core unit bench fuzz pgtap prove FORCE
FORCE:

$(BUILD_DIR)/core/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR)/core -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE) -DQUIVER_WERROR=$(if $(filter 1,$(WERROR)),ON,OFF) >/dev/null

$(CORE_LIB): $(BUILD_DIR)/core/Makefile FORCE
	+cmake --build $(BUILD_DIR)/core --target quiver_core

core: $(CORE_LIB)

unit: $(BUILD_DIR)/core/Makefile
	cmake --build $(BUILD_DIR)/core -j$(shell nproc)
	cd $(BUILD_DIR)/core && ctest --output-on-failure

bench: $(BUILD_DIR)/core/Makefile
	cmake --build $(BUILD_DIR)/core --target bench_kernels bench_hnsw_core bench_ann

fuzz:
	$(MAKE) -C test/fuzz

pgtap:
	pg_prove --ext .sql test/pgtap/

prove:
	$(prove_installcheck)

clean: clean-quiver
clean-quiver:
	rm -rf $(BUILD_DIR) src/pg/*.d src/pg/*/*.d results regression.diffs regression.out tmp_check
	$(MAKE) -C test/fuzz clean
