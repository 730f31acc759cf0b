"""Route tables, one module per group of SCIM endpoints."""
