-- exact nearest-neighbour search by sequential scan, joined with relational tables

CREATE TABLE categories (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO categories VALUES (1, 'news'), (2, 'sport'), (3, 'science');

CREATE TABLE documents (
	id int PRIMARY KEY,
	category_id int NOT NULL REFERENCES categories (id),
	title text NOT NULL,
	embedding vector(3) NOT NULL
);
INSERT INTO documents
SELECT i, 1 + i % 3, 'doc ' || i,
       ARRAY[cos(i * 0.37), sin(i * 0.37), (i % 7) / 7.0]::vector(3)
FROM generate_series(1, 300) i;

-- k nearest by each distance
SELECT id, round((embedding <-> '[1,0,0.5]')::numeric, 6) AS dist FROM documents ORDER BY embedding <-> '[1,0,0.5]' LIMIT 5;
SELECT id, round((embedding <#> '[1,0,0.5]')::numeric, 6) AS dist FROM documents ORDER BY embedding <#> '[1,0,0.5]' LIMIT 5;
SELECT id, round((embedding <=> '[1,0,0.5]')::numeric, 6) AS dist FROM documents ORDER BY embedding <=> '[1,0,0.5]' LIMIT 5;
SELECT id, round((embedding <+> '[1,0,0.5]')::numeric, 6) AS dist FROM documents ORDER BY embedding <+> '[1,0,0.5]' LIMIT 5;

-- the same answer as sorting every distance in SQL
SELECT array_agg(id) = (SELECT array_agg(id) FROM (
	SELECT id FROM documents ORDER BY l2_distance(embedding, '[0.2,0.9,0.1]'), id LIMIT 10) s) AS same
FROM (SELECT id FROM documents ORDER BY embedding <-> '[0.2,0.9,0.1]', id LIMIT 10) t;

-- joined with a relational table, filtered
SELECT d.id, c.name, d.title
FROM documents d JOIN categories c ON c.id = d.category_id
WHERE c.name = 'science'
ORDER BY d.embedding <-> '[1,0,0.5]'
LIMIT 5;

-- nearest neighbours of another row
SELECT d2.id FROM documents d1, documents d2
WHERE d1.id = 42 AND d2.id <> d1.id
ORDER BY d1.embedding <=> d2.embedding, d2.id
LIMIT 3;

-- a parameterised query, as drivers send it
PREPARE knn(vector, int) AS
	SELECT id FROM documents WHERE category_id = $2 ORDER BY embedding <-> $1 LIMIT 3;
EXECUTE knn('[0,1,0]', 2);
EXECUTE knn('[0,1]', 2);
DEALLOCATE knn;

-- per-category centroids and the document nearest to each
SELECT c.name, (SELECT d.id FROM documents d WHERE d.category_id = c.id
                ORDER BY d.embedding <-> a.centroid LIMIT 1) AS nearest
FROM categories c
JOIN (SELECT category_id, avg(embedding) AS centroid FROM documents GROUP BY category_id) a ON a.category_id = c.id
ORDER BY c.id;

DROP TABLE documents, categories;
