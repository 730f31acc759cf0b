"""What the front door (``http/front_door.py``) does before routing: the auth guard, and
the canonical spelling of resource endpoint names."""
