"""The HTTP service (FastAPI on Starlette)."""
