-- The SQL surface a pgvector client relies on exists, with the declared properties.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION quiver;
SELECT plan(45);

SELECT has_type('vector');
SELECT has_opclass('vector_ops');
SELECT has_cast('integer[]', 'vector');
SELECT has_cast('real[]', 'vector');
SELECT has_cast('double precision[]', 'vector');
SELECT has_cast('numeric[]', 'vector');
SELECT has_cast('vector', 'real[]');
SELECT has_cast('vector', 'vector');

SELECT has_operator('vector', '<->', 'vector', 'double precision');
SELECT has_operator('vector', '<#>', 'vector', 'double precision');
SELECT has_operator('vector', '<=>', 'vector', 'double precision');
SELECT has_operator('vector', '<+>', 'vector', 'double precision');
SELECT has_operator('vector', '+', 'vector', 'vector');
SELECT has_operator('vector', '-', 'vector', 'vector');
SELECT has_operator('vector', '*', 'vector', 'vector');
SELECT has_operator('vector', '||', 'vector', 'vector');
SELECT has_operator('vector', '=', 'vector', 'boolean');
SELECT has_operator('vector', '<>', 'vector', 'boolean');
SELECT has_operator('vector', '<', 'vector', 'boolean');
SELECT has_operator('vector', '<=', 'vector', 'boolean');
SELECT has_operator('vector', '>', 'vector', 'boolean');
SELECT has_operator('vector', '>=', 'vector', 'boolean');

SELECT volatility_is('l2_distance', ARRAY['vector', 'vector'], 'immutable');
SELECT volatility_is('inner_product', ARRAY['vector', 'vector'], 'immutable');
SELECT volatility_is('cosine_distance', ARRAY['vector', 'vector'], 'immutable');
SELECT volatility_is('l1_distance', ARRAY['vector', 'vector'], 'immutable');
SELECT is_strict('l2_distance', ARRAY['vector', 'vector']);
SELECT function_returns('vector_dims', ARRAY['vector'], 'integer');
SELECT function_returns('vector_norm', ARRAY['vector'], 'double precision');
SELECT function_returns('l2_normalize', ARRAY['vector'], 'vector');
SELECT function_returns('subvector', ARRAY['vector', 'integer', 'integer'], 'vector');
SELECT function_returns('binary_quantize', ARRAY['vector'], 'bit');
SELECT is_aggregate('avg', ARRAY['vector']);
SELECT is_aggregate('sum', ARRAY['vector']);
SELECT function_returns('quiver_version', 'text');
SELECT function_returns('quiver_kernel_level', 'text');

-- Computed facts, not restated constants.
SELECT is(('[3,4]'::vector <-> '[0,0]')::numeric, 5::numeric, 'L2 of a 3-4-5 triangle');
SELECT is(('[1,2,3]'::vector <#> '[4,5,6]'), -32::float8, 'negative inner product');
SELECT is(('[1,0]'::vector <=> '[0,1]'), 1::float8, 'orthogonal vectors have cosine distance 1');
SELECT is(('[1,-2]'::vector <+> '[-1,2]'), 6::float8, 'L1 distance');
SELECT is(vector_dims(array_fill(1.5::real, ARRAY[16000])::vector), 16000, 'the 16,000-dimension limit is usable');
SELECT throws_ok($$SELECT array_fill(1.5::real, ARRAY[16001])::vector$$, '54000', NULL, 'above 16,000 dimensions is a program limit error');
SELECT throws_ok($$SELECT '[1,2'::vector$$, '22P02', NULL, 'malformed text is 22P02');
SELECT throws_ok($$SELECT '[1,2]'::vector <-> '[1]'$$, '22000', 'different vector dimensions 2 and 1', 'mismatched dimensions');
SELECT is(
	(SELECT avg(v) FROM (SELECT ARRAY[i, 2 * i, -i]::vector AS v FROM generate_series(1, 99) i) s),
	'[50,100,-50]'::vector, 'avg of 99 vectors');

SELECT * FROM finish();
ROLLBACK;
