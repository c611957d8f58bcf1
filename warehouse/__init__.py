"""Options and volatility analytics warehouse: runtime, raw landing layer and loaders."""

__version__ = "0.1.0"
