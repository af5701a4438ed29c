-- casts between vector and arrays

SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.5,2.25,3]::vector;
SELECT ARRAY[1,2,3]::real[]::vector;
SELECT ARRAY[1,2,3]::double precision[]::vector;
SELECT ARRAY[1,2,3]::numeric[]::vector;
SELECT '{1,2,3}'::real[]::vector(3);
SELECT '{1,2,3}'::real[]::vector(2);
SELECT '{1,2,3}'::double precision[]::vector(2);
SELECT '{1,2,3}'::integer[]::vector(2);
SELECT '{1,2,3}'::numeric[]::vector(2);
SELECT '{NULL}'::real[]::vector;
SELECT '{1,NULL}'::integer[]::vector;
SELECT '{NaN}'::real[]::vector;
SELECT '{NaN}'::numeric[]::vector;
SELECT '{Infinity}'::real[]::vector;
SELECT '{-Infinity}'::double precision[]::vector;
SELECT '{}'::real[]::vector;
SELECT '{{1}}'::real[]::vector;
SELECT '{4e38,-4e38}'::double precision[]::vector;
SELECT '{1e-46,-1e-46}'::double precision[]::vector;
SELECT '{1e39}'::numeric[]::vector;
SELECT '{2147483647}'::integer[]::vector;
SELECT array_agg(n)::vector(16000) IS NOT NULL FROM generate_series(1, 16000) n;
SELECT array_agg(n)::vector FROM generate_series(1, 16001) n;
SELECT array_to_vector(array_agg(n), 16001, false) FROM generate_series(1, 16001) n;
SELECT '{1,2,3}'::text[]::vector;

-- vector to real[] (implicit)
SELECT '[1,2,3]'::vector::real[];
SELECT '[1.5,-0]'::vector::real[];
SELECT array_length('[1,2,3]'::vector::real[], 1);
SELECT '[1,2,3]'::vector::double precision[];
SELECT '[1,2,3]'::vector::integer[];

-- assignment casts into vector columns
CREATE TABLE vc (v vector(3));
INSERT INTO vc VALUES (ARRAY[1,2,3]), ('{4,5,6}'::real[]), (ARRAY[7.5,8,9]::numeric[]);
INSERT INTO vc VALUES (ARRAY[1,2]);
SELECT * FROM vc;
DROP TABLE vc;

-- vector(n) to vector(m)
SELECT '[1,2,3]'::vector::vector(3);
SELECT '[1,2,3]'::vector(3)::vector(2);
SELECT castcontext, castfunc::regprocedure FROM pg_cast
WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype ORDER BY 2::text;
