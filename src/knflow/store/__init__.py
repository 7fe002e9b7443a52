"""PostgreSQL through psycopg 3: pool, repositories with named SQL blocks, migrations."""
