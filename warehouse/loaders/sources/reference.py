"""Reference-data and news CSVs in canonical columns (see ``warehouse.loaders.canonical``)."""

from warehouse.loaders import canonical  # noqa: F401  (registers the sources on import)
