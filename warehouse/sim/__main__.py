"""``python -m warehouse.sim``: the same as ``warehouse simulate``."""

from warehouse.sim import cli_simulate

raise SystemExit(cli_simulate())
