"""The kit every part of Assay uses and that knows no domain: settings, the database and its one session
boundary, the error tree, security primitives, ids, tenancy, logs, metrics, rate limits, Markdown,
migrations and backups. `tests/test_architecture.py` fails if a module here imports a domain."""
