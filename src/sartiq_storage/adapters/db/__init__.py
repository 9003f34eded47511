"""The database: SQLAlchemy 2 models, engines and Alembic migrations (SQLite or PostgreSQL)."""
