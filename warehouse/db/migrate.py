"""Apply the SQL migrations in ``warehouse/db/migrations`` in order, once each.

Each file is applied in its own transaction and recorded in ``meta.schema_migrations`` with its
SHA-256; a file edited after it was applied is an error (write a new migration instead).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class MigrationError(RuntimeError):
    """A migration could not be applied, or an applied one was edited."""


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations() -> list[Migration]:
    return [Migration(p.stem, p) for p in sorted(MIGRATIONS_DIR.glob("*.sql"))]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; return the versions applied now."""
    with conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS meta")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS meta.schema_migrations (
                   version    text PRIMARY KEY,
                   sha256     text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = dict(
            conn.execute("SELECT version, sha256 FROM meta.schema_migrations").fetchall()
        )
    done: list[str] = []
    for m in migrations():
        if m.version in applied:
            if applied[m.version] != m.sha256:
                raise MigrationError(
                    f"migration {m.path.name} was edited after it was applied "
                    f"(recorded {applied[m.version][:12]}, now {m.sha256[:12]}); "
                    "add a new migration instead"
                )
            continue
        try:
            with conn.transaction():
                conn.execute(m.sql)
                conn.execute(
                    "INSERT INTO meta.schema_migrations (version, sha256) VALUES (%s, %s)",
                    (m.version, m.sha256),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"migration {m.path.name} failed: {exc}") from exc
        done.append(m.version)
    return done
