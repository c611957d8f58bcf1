"""Database runtime: provisioning, connections, migrations and grants."""
