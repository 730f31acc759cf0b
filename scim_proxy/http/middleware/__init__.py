"""What the request pipeline (``http/pipeline.py``) does before routing: the auth guard, and
the canonical spelling of resource endpoint names."""
