-- Quiver demo: documents with embeddings next to ordinary relational data.
\echo '--- Quiver demo'
CREATE EXTENSION quiver;
SELECT quiver_version() AS version, quiver_kernel_level() AS simd_kernels;

CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL, country text NOT NULL);
INSERT INTO authors VALUES (1, 'Ada', 'UK'), (2, 'Grace', 'US'), (3, 'Edsger', 'NL');

-- In real use the embeddings come from a model; here, 4-dimensional toy ones.
CREATE TABLE documents (
	id        bigserial PRIMARY KEY,
	author_id int NOT NULL REFERENCES authors (id),
	title     text NOT NULL,
	embedding vector(4) NOT NULL
);
INSERT INTO documents (author_id, title, embedding) VALUES
	(1, 'Notes on the analytical engine',   '[0.9, 0.1, 0.0, 0.2]'),
	(1, 'Bernoulli numbers, step by step',  '[0.8, 0.3, 0.1, 0.1]'),
	(2, 'Compilers for business languages', '[0.1, 0.9, 0.3, 0.0]'),
	(2, 'Debugging a moth',                 '[0.2, 0.7, 0.6, 0.1]'),
	(3, 'Go to statement considered harmful', '[0.1, 0.4, 0.9, 0.2]'),
	(3, 'Shortest paths in graphs',         '[0.3, 0.2, 0.8, 0.7]');

\echo '--- the three documents nearest to a query embedding (cosine distance)'
SELECT d.title, a.name, round((d.embedding <=> '[0.85, 0.2, 0.05, 0.15]')::numeric, 4) AS distance
FROM documents d JOIN authors a ON a.id = d.author_id
ORDER BY d.embedding <=> '[0.85, 0.2, 0.05, 0.15]'
LIMIT 3;

\echo '--- the same search, filtered by a relational attribute'
SELECT d.title, a.name, round((d.embedding <-> '[0.2, 0.6, 0.7, 0.1]')::numeric, 4) AS l2
FROM documents d JOIN authors a ON a.id = d.author_id
WHERE a.country <> 'US'
ORDER BY d.embedding <-> '[0.2, 0.6, 0.7, 0.1]'
LIMIT 2;

\echo '--- each author''s centroid and their document closest to it'
SELECT a.name, c.centroid,
       (SELECT title FROM documents d WHERE d.author_id = a.id ORDER BY d.embedding <-> c.centroid LIMIT 1) AS most_typical
FROM authors a
JOIN (SELECT author_id, avg(embedding) AS centroid FROM documents GROUP BY author_id) c ON c.author_id = a.id
ORDER BY a.id;

\echo '--- an HNSW index answers the same similarity query (forced here: the table is tiny)'
CREATE INDEX documents_embedding_idx ON documents USING hnsw (embedding vector_cosine_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT title FROM documents ORDER BY embedding <=> '[0.85, 0.2, 0.05, 0.15]' LIMIT 3;
SELECT title FROM documents ORDER BY embedding <=> '[0.85, 0.2, 0.05, 0.15]' LIMIT 3;
RESET enable_seqscan;
SELECT elements, heap_tids, max_level, dimensions, m, metric FROM quiver_hnsw_stats('documents_embedding_idx');
