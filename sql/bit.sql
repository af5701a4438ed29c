-- distances on bit strings: Hamming (<~>) and Jaccard (<%>)
SELECT hamming_distance(B'1011', B'1001'), B'1011' <~> B'0100', jaccard_distance(B'1100', B'1010'), B'1111' <%> B'1111';
SELECT jaccard_distance(B'0000', B'0000'), jaccard_distance(B'', B''), hamming_distance(B'', B'');
-- lengths across the 8-byte and 64-byte steps of the kernels, against bit_count()
WITH pairs AS (
	SELECT n, (SELECT string_agg(CASE WHEN random() < 0.5 THEN '1' ELSE '0' END, '') FROM generate_series(1, n) WHERE n > 0)::varbit AS a,
	          (SELECT string_agg(CASE WHEN random() < 0.3 THEN '1' ELSE '0' END, '') FROM generate_series(1, n) WHERE n > 0)::varbit AS b
	FROM generate_series(1, 1200) n
)
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE hamming_distance(a, b) = bit_count(a # b)
                        AND jaccard_distance(a, b) = CASE WHEN bit_count(a | b) = 0 THEN 1
                                                          ELSE 1 - bit_count(a & b)::float8 / bit_count(a | b) END) AS agree
FROM pairs;
-- 64,000 bits
SELECT hamming_distance(repeat('10', 32000)::bit(64000), repeat('01', 32000)::bit(64000)),
       jaccard_distance(repeat('1', 64000)::bit(64000), repeat('10', 32000)::bit(64000));
-- binary-quantized vectors
SELECT binary_quantize('[1,-2,3,0.5]'::vector) <~> binary_quantize('[1,2,-3,0.5]'::vector),
       binary_quantize('[1,-2,3]'::halfvec) <%> B'101';
-- exact nearest neighbours by Hamming distance
CREATE TABLE bq (id int, b bit(8));
INSERT INTO bq VALUES (1, B'11110000'), (2, B'11111111'), (3, B'00000000'), (4, B'11100000');
SELECT id, b <~> B'11110001' AS d FROM bq ORDER BY b <~> B'11110001', id;
DROP TABLE bq;
-- errors: lengths must match
SELECT hamming_distance(B'111', B'11');
SELECT B'1111' <%> B'11111';
SELECT hamming_distance(B'111', NULL) IS NULL;
