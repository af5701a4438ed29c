-- vector text input and output, typmods, and every input error

-- output is the shortest text that reads back to the same float
SELECT '[1,2,3]'::vector;
SELECT '[-1.5,0,2.25]'::vector;
SELECT '[1.,2.,3.]'::vector;
SELECT ' [ 1,  2 ,    3  ] '::vector;
SELECT E'\t[1,\n2]\r\n'::vector;
SELECT '[0.1,1.23456,3.4028235e38]'::vector;
SELECT '[100000,1000000,0.0001,0.00001]'::vector;
SELECT '[1.5e38,-1.5e-38]'::vector;
SELECT '[1e-46,-1e-46]'::vector;
SELECT '[0x10,1e2]'::vector;

-- malformed text: SQLSTATE 22P02
\set VERBOSITY default
SELECT ''::vector;
SELECT '1,2,3'::vector;
SELECT '['::vector;
SELECT '[ '::vector;
SELECT '[,'::vector;
SELECT '[,]'::vector;
SELECT '[1,]'::vector;
SELECT '[1a]'::vector;
SELECT '[1,,3]'::vector;
SELECT '[1, ,3]'::vector;
SELECT '[1,2,3'::vector;
SELECT '[1 2]'::vector;
SELECT '[hello,1]'::vector;
SELECT '[1,2,3]9'::vector;
SELECT '[1,2,3]]'::vector;

-- well-formed but unacceptable values
SELECT '[]'::vector;
SELECT '[ ]'::vector;
SELECT '[NaN,1]'::vector;
SELECT '[1,Infinity]'::vector;
SELECT '[-inf]'::vector;
SELECT '[4e38,1]'::vector;
SELECT '[1,-4e38]'::vector;

-- the SQLSTATEs themselves
\set VERBOSITY sqlstate
SELECT '[1,'::vector;
SELECT '[]'::vector;
SELECT '[NaN]'::vector;
SELECT '[4e38]'::vector;
SELECT ('[' || array_to_string(array_fill(0, ARRAY[16001]), ',') || ']')::vector;
\set VERBOSITY default

-- 16,000 dimensions is the limit
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector);
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;

-- typmod
SELECT '[1,2,3]'::vector(3);
SELECT '[1,2,3]'::vector(2);
SELECT '[1,2,3]'::vector(3, 2);
SELECT '[1,2,3]'::vector('a');
SELECT '[1,2,3]'::vector(0);
SELECT '[1,2,3]'::vector(16000);
SELECT '[1,2,3]'::vector(16001);
SELECT unnest('{"[1,2,3]", "[4,5,6]"}'::vector[]);
SELECT '{"[1,2,3]"}'::vector(2)[];

CREATE TABLE vt (id int, v vector(3));
INSERT INTO vt VALUES (1, '[1,2,3]');
INSERT INTO vt VALUES (2, '[1,2]');
INSERT INTO vt VALUES (3, '[1,2,3,4]'::vector);
UPDATE vt SET v = '[1,2]' WHERE id = 1;
SELECT * FROM vt;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'vt'::regclass AND attname = 'v';
ALTER TABLE vt ALTER COLUMN v TYPE vector(4);
ALTER TABLE vt ALTER COLUMN v TYPE vector;
INSERT INTO vt VALUES (4, '[1]');
SELECT * FROM vt ORDER BY id;
DROP TABLE vt;

-- NULL in, NULL out
SELECT NULL::vector, vector_dims(NULL::vector), NULL::vector <-> '[1]';

-- the type's properties
SELECT typname, typlen, typstorage, typalign, typmodin::regproc, typreceive::regproc, typsend::regproc
FROM pg_type WHERE typname = 'vector';
