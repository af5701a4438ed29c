-- C++ exceptions raised inside the core become ordinary errors, and the session carries on

SELECT quiver_version() = (SELECT extversion FROM pg_extension WHERE extname = 'quiver') AS version_matches;
SELECT quiver_kernel_level() IN ('scalar', 'sse2', 'avx2', 'avx512') AS known_level;

\set VERBOSITY sqlstate
SELECT quiver_selftest_raise('core');
SELECT quiver_selftest_raise('bad_alloc');
SELECT quiver_selftest_raise('std');
SELECT quiver_selftest_raise('unknown');
SELECT quiver_selftest_raise('nonsense');
\set VERBOSITY default
SELECT quiver_selftest_raise('core');
SELECT quiver_selftest_raise('bad_alloc');
SELECT quiver_selftest_raise('std');
SELECT quiver_selftest_raise('unknown');

-- inside a transaction: the error aborts it cleanly; a savepoint recovers
BEGIN;
SELECT '[1,2]'::vector <-> '[2,3]';
SAVEPOINT s;
SELECT quiver_selftest_raise('bad_alloc');
ROLLBACK TO SAVEPOINT s;
SELECT '[1,2]'::vector <-> '[2,3]';
COMMIT;

-- many in a row leak nothing that breaks later queries
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		BEGIN
			PERFORM quiver_selftest_raise(CASE i % 4 WHEN 0 THEN 'core' WHEN 1 THEN 'bad_alloc' WHEN 2 THEN 'std' ELSE 'unknown' END);
		EXCEPTION WHEN OTHERS THEN
			NULL;
		END;
	END LOOP;
END $$;
SELECT '[1,2,3]'::vector + '[1,1,1]';

-- the self-test is not for everyone
SELECT has_function_privilege('public', 'quiver_selftest_raise(text)', 'EXECUTE') AS public_can_raise;
