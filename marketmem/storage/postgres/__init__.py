"""The PostgreSQL engine (psycopg 3): what it has so far is the leases of several instances."""
