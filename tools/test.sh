#!/usr/bin/env bash
# Runs every test suite of Quiver against real PostgreSQL 15 servers and prints a summary.
#
#   tools/test.sh            everything
#   FUZZ_SECONDS=60 tools/test.sh   longer fuzzing (default 15 s per target)
#
# Suites: core unit tests (CTest/GoogleTest), pg_regress (sql/, expected/) and pgTAP
# (test/pgtap) each in a throwaway cluster made by pg_virtualenv, multi-server Perl TAP tests
# (test/t, PostgreSQL::Test::Cluster, run as the postgres user because initdb refuses root),
# and a short libFuzzer run of every input codec. The last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

FUZZ_SECONDS=${FUZZ_SECONDS:-15}
PG_BINDIR=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
# pg_config --pgxs is <pgxs>/src/makefiles/pgxs.mk; the TAP modules live in <pgxs>/src/test/perl.
PGXS_MK=$(pg_config --pgxs 2>/dev/null || echo /usr/lib/postgresql/15/lib/pgxs/src/makefiles/pgxs.mk)
PGXS_DIR=$(dirname "$(dirname "$(dirname "$PGXS_MK")")")
LOG_DIR=${LOG_DIR:-$ROOT/build/test-logs}
mkdir -p "$LOG_DIR"

passed=0
failed=0
declare -a summary

record() { # suite passed failed
	passed=$((passed + $2))
	failed=$((failed + $3))
	summary+=("$(printf '%-12s %5d passed %5d failed' "$1" "$2" "$3")")
}

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
tools/install-deps.sh || exit 1

step "build (warnings are errors)"
if ! make -j"$(nproc)" WERROR=1 >"$LOG_DIR/build.log" 2>&1; then
	tail -50 "$LOG_DIR/build.log"
	echo "build failed"
	exit 1
fi
if grep -E '^[^ ]+:[0-9]+:([0-9]+:)? warning:' "$LOG_DIR/build.log"; then
	echo "build produced warnings"
	exit 1
fi
make install >"$LOG_DIR/install.log" 2>&1 || { tail -20 "$LOG_DIR/install.log"; exit 1; }
echo "built and installed quiver.so"

step "core unit tests (CTest)"
make unit WERROR=1 >"$LOG_DIR/unit.log" 2>&1
tail -3 "$LOG_DIR/unit.log"
if line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$LOG_DIR/unit.log"); then
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	bad=$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
	record unit $((total - bad)) "$bad"
else
	grep -E 'FAILED|Error' "$LOG_DIR/unit.log" | head -20
	record unit 0 1
fi

step "pg_regress"
rm -rf results regression.diffs regression.out
pg_virtualenv -v 15 make installcheck >"$LOG_DIR/regress.log" 2>&1
total=$(wc -l <schedule)
bad=$(grep -cE '^(not ok|test .* \.\.\. FAILED| *[a-z_]+ +\.\.\. FAILED)' "$LOG_DIR/regress.log" || true)
if grep -qE 'All [0-9]+ tests passed' "$LOG_DIR/regress.log"; then
	grep -E 'All [0-9]+ tests passed' "$LOG_DIR/regress.log"
	record regress "$total" 0
else
	bad=$(sed -nE 's/.* ([0-9]+) of [0-9]+ tests failed.*/\1/p' "$LOG_DIR/regress.log" | head -1)
	bad=${bad:-$total}
	[ -f regression.diffs ] && head -80 regression.diffs
	record regress $((total - bad)) "$bad"
fi

step "pgTAP (pg_prove)"
pg_virtualenv -v 15 pg_prove --ext .sql test/pgtap/ >"$LOG_DIR/pgtap.log" 2>&1
grep -E '^(/|test/|Files=|Result:|# Failed)' "$LOG_DIR/pgtap.log"
tests=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+).*/\1/p' "$LOG_DIR/pgtap.log")
if grep -q '^Result: PASS' "$LOG_DIR/pgtap.log"; then
	record pgtap "${tests:-0}" 0
else
	bad=$(grep -cE '^# Failed test' "$LOG_DIR/pgtap.log" || true)
	record pgtap $((${tests:-0} - bad)) $((bad > 0 ? bad : 1))
fi

step "multi-server TAP (prove, as postgres)"
TAP_DIR=$(mktemp -d /tmp/quiver-tap.XXXXXX)
cp -r test/t "$TAP_DIR/"
chown -R postgres "$TAP_DIR"
(cd "$TAP_DIR" && runuser -u postgres -- env PATH="$PG_BINDIR:$PATH" TESTDIR="$TAP_DIR" \
	PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
	prove -I "$PGXS_DIR/src/test/perl" t/*.pl) >"$LOG_DIR/tap.log" 2>&1
grep -E '^(t/|Files=|Result:|# )' "$LOG_DIR/tap.log"
tests=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+).*/\1/p' "$LOG_DIR/tap.log")
if grep -q '^Result: PASS' "$LOG_DIR/tap.log"; then
	record tap "${tests:-0}" 0
	rm -rf "$TAP_DIR"
else
	bad=$(grep -cE '^# +Failed test' "$LOG_DIR/tap.log" || true)
	echo "TAP logs kept in $TAP_DIR/tmp_check"
	record tap $((${tests:-0} - bad)) $((bad > 0 ? bad : 1))
fi

step "fuzzing (${FUZZ_SECONDS} s per target)"
if make -C test/fuzz run FUZZ_SECONDS="$FUZZ_SECONDS" >"$LOG_DIR/fuzz.log" 2>&1; then
	grep -E '^fuzz_|DONE' "$LOG_DIR/fuzz.log"
	record fuzz "$(grep -c '^fuzz_' "$LOG_DIR/fuzz.log")" 0
else
	tail -30 "$LOG_DIR/fuzz.log"
	record fuzz 0 1
fi

step "summary"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
