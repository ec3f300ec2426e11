"""The PostgreSQL engine (psycopg 3), so far: its DDL (``ddl``) and the leases of several
instances (``leases``); its writer and readers are still to come."""
