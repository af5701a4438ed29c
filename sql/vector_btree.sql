-- btree opclass: index scans, ORDER BY, DISTINCT, GROUP BY, UNIQUE

CREATE TABLE vb (id int, v vector(3));
INSERT INTO vb VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1,1,1]'), (4, NULL), (5, '[1,2,3]'), (6, '[-1,5,0]');
CREATE INDEX vb_v_idx ON vb (v);

SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM vb WHERE v = '[1,2,3]';
SELECT * FROM vb WHERE v = '[1,2,3]' ORDER BY id;
SELECT * FROM vb WHERE v > '[1,1,1]' ORDER BY id;
SELECT * FROM vb ORDER BY v, id;
SELECT * FROM vb ORDER BY v DESC NULLS LAST, id;
RESET enable_seqscan;

SELECT DISTINCT v FROM vb ORDER BY v;
SELECT v, count(*) FROM vb GROUP BY v ORDER BY v;
SELECT count(DISTINCT v) FROM vb;
SELECT min(v::text), max(v::text) FROM vb;

CREATE UNIQUE INDEX vb_unique ON vb (v);
DELETE FROM vb WHERE id = 5;
CREATE UNIQUE INDEX vb_unique ON vb (v);
INSERT INTO vb VALUES (7, '[1,1,1]');

-- joins on vector equality (like pgvector, = is not marked MERGES or HASHES)
CREATE TABLE vb2 (w vector(3));
INSERT INTO vb2 VALUES ('[1,1,1]'), ('[-1,5,0]'), ('[9,9,9]');
SELECT id FROM vb JOIN vb2 ON v = w ORDER BY id;

DROP TABLE vb, vb2;
