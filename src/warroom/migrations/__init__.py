"""Schema migrations (Alembic): the scripts, the model registry they compare with, and upgrade."""
