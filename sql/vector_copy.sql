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
-- it out and into a vector column hands those bytes to vector_recv.
CREATE TABLE raw (id int, b bytea);
CREATE TABLE dst3 (id int, v vector);
CREATE FUNCTION try_recv(bytes bytea) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	TRUNCATE raw;
	-- a good row first: a failing COPY must not keep it
	INSERT INTO raw VALUES (1, '\x000100003f800000'), (2, bytes);
END $$;

SELECT try_recv('\x000200003f80000040000000');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)
SELECT * FROM dst3 ORDER BY id;
TRUNCATE dst3;

-- truncated header
SELECT try_recv('\x0001');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)
-- truncated values
SELECT try_recv('\x000200003f800000');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)
-- zero dimensions
SELECT try_recv('\x00000000');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)
-- dim 65535 ("-1" as int16)
SELECT try_recv('\xffff0000');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)
-- unused field not zero
SELECT try_recv('\x000100073f800000');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)
-- NaN and infinity
SELECT try_recv('\x000100007fc00000');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)
SELECT try_recv('\x00010000ff800000');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)
-- trailing bytes after the last value
SELECT try_recv('\x000100003f80000000');
\copy raw TO 'results/raw.bin' WITH (FORMAT binary)
\copy dst3 FROM 'results/raw.bin' WITH (FORMAT binary)

-- nothing half-loaded: a bad row makes the whole COPY fail
SELECT count(*) FROM dst3;

-- text COPY reports the line of a malformed vector
CREATE TABLE tx (v vector);
COPY tx FROM stdin;
[1,2]
[3,4
\.
SELECT count(*) FROM tx;

DROP TABLE src, dst, dst2, raw, dst3, tx;
DROP FUNCTION try_recv(bytea);
