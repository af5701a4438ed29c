-- binary send/recv: COPY round trips, and every malformed binary value

CREATE TABLE src (id int, v vector(3));
INSERT INTO src VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1.5,-0,3.4028235e38]'), (4, NULL);
CREATE TABLE dst (id int, v vector(3));

\copy src TO 'results/vector.bin' WITH (FORMAT binary)
\copy dst FROM 'results/vector.bin' WITH (FORMAT binary)
SELECT * FROM dst ORDER BY id;
SELECT count(*) AS identical FROM src JOIN dst USING (id) WHERE src.v = dst.v;

-- the wire format: int16 dim, int16 unused, float4 values, network byte order
SELECT vector_send('[1,-2]'::vector);

-- a typmod is checked on binary input too
CREATE TABLE dst2 (id int, v vector(2));
\copy dst2 FROM 'results/vector.bin' WITH (FORMAT binary)

-- Craft raw field bytes: a bytea column's binary COPY field is exactly its bytes, so copying
-- it out and into a vector column hands those bytes to vector_recv. A good row goes first:
-- a failing COPY must not keep it.
CREATE TABLE raw (id int, b bytea);
CREATE TABLE dst3 (id int, v vector);
CREATE FUNCTION recv(bytes bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := '/tmp/quiver_regress_recv_' || pg_backend_pid() || '.bin';
	context text;
BEGIN
	TRUNCATE raw;
	INSERT INTO raw VALUES (1, '\x000100003f800000'), (2, bytes);
	EXECUTE format('COPY raw TO %L WITH (FORMAT binary)', path);
	BEGIN
		EXECUTE format('COPY dst3 FROM %L WITH (FORMAT binary)', path);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS context = PG_EXCEPTION_CONTEXT;
		RETURN SQLSTATE || ': ' || SQLERRM || ' (' || split_part(context, E'\n', 1) || ')';
	END;
	RETURN (SELECT string_agg(v::text, ' ' ORDER BY id) FROM dst3);
END $$;

SELECT recv('\x000200003f80000040000000') AS two_values;
SELECT recv('\x0001') AS truncated_header;
SELECT recv('\x000200003f800000') AS truncated_values;
SELECT recv('\x00000000') AS zero_dimensions;
SELECT recv('\xffff0000') AS dim_65535;
SELECT recv('\x3e810000') AS dim_16001;
SELECT recv('\x000100073f800000') AS unused_not_zero;
SELECT recv('\x000100007fc00000') AS nan;
SELECT recv('\x00010000ff800000') AS minus_infinity;
SELECT recv('\x000100003f80000000') AS trailing_byte;
TRUNCATE dst3;
SELECT recv('\x0001') IS NOT NULL AS failed, count(*) AS rows_kept FROM dst3;

-- text COPY reports the line of a malformed vector
CREATE TABLE tx (v vector);
COPY tx FROM stdin;
[1,2]
[3,4
\.
SELECT count(*) FROM tx;

-- and of a malformed halfvec or sparsevec among good rows; nothing of the file is kept
CREATE TABLE tmix (id int, h halfvec(2), s sparsevec(5));
COPY tmix FROM stdin;
1	[1,2]	{1:1,3:2}/5
2	[3,4]	{2:1}/5
3	[5,70000]	{1:1}/5
4	[7,8]	{1:1}/5
\.
COPY tmix FROM stdin;
1	[1,2]	{1:1,3:2}/5
2	[3,4]	{2:1,2:3}/5
\.
SELECT count(*) FROM tmix;

DROP TABLE src, dst, dst2, raw, dst3, tx, tmix;
DROP FUNCTION recv(bytea);
