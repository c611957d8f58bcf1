"""Execution settings, read from :mod:`warehouse.config` (environment variables, defaults there).

| variable | meaning |
|---|---|
| ``WAREHOUSE_BROKER`` | broker adapter (``paper``) |
| ``WAREHOUSE_WORKER_POLL_SECONDS`` | idle wait between polls of the outbox |
| ``WAREHOUSE_WORKER_BATCH`` | events claimed per poll |
| ``WAREHOUSE_WORKER_SEED`` | seed of the retry jitter (PCG64, mixed with the worker id) |
| ``WAREHOUSE_OUTBOX_LEASE_SECONDS`` | lease (visibility timeout) of a claim; heartbeats extend it |
| ``WAREHOUSE_OUTBOX_MAX_ATTEMPTS`` | failed attempts before an event is dead-lettered |
| ``WAREHOUSE_OUTBOX_MAX_CLAIMS`` | claims without an end (worker crashes) before it is |
| ``WAREHOUSE_OUTBOX_BACKOFF_BASE_SECONDS`` / ``..._CAP_SECONDS`` | retry backoff |
| ``WAREHOUSE_PAPER_SLIPPAGE`` | paper fills: slippage as a multiple of the half spread |
| ``WAREHOUSE_PAPER_FEE_PER_CONTRACT`` | USD per contract |
| ``WAREHOUSE_PAPER_NOISE`` | sd of the price noise, as a multiple of the half spread |
| ``WAREHOUSE_PAPER_PARTICIPATION`` | share of the quoted size an order may take |
| ``WAREHOUSE_PAPER_SEED`` | seed of the paper broker's noise (PCG64, per client order id) |
| ``WAREHOUSE_PAPER_LATENCY_MS`` | simulated delay of the broker's acknowledgement |
| ``WAREHOUSE_PAPER_PASSIVE_FILLS`` | 1: limits inside the spread may fill passively (0: IOC) |
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse.config import Settings, settings


def _flag(s: Settings, name: str) -> bool:
    """A boolean setting: 1/true/yes/on or 0/false/no/off (anything else is an error)."""
    value = s[name].strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={s[name]!r}: expected 1/0, true/false, yes/no or on/off")


@dataclass(frozen=True)
class WorkerConfig:
    """How the outbox worker polls, leases, retries and gives up."""

    poll_seconds: float = 1.0
    batch_size: int = 10
    lease_seconds: float = 30.0
    max_attempts: int = 5
    max_claims: int = 25
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    seed: int = 0
    reconnect_base: float = 0.2
    reconnect_cap: float = 5.0

    @property
    def heartbeat_seconds(self) -> float:
        """Heartbeats run three times per lease, so one missed beat never loses a lease."""
        return max(self.lease_seconds / 3.0, 0.05)

    @classmethod
    def from_settings(cls, s: Settings | None = None, **overrides: object) -> WorkerConfig:
        s = s or settings()
        values: dict[str, object] = {
            "poll_seconds": float(s["WAREHOUSE_WORKER_POLL_SECONDS"]),
            "batch_size": int(s["WAREHOUSE_WORKER_BATCH"]),
            "lease_seconds": float(s["WAREHOUSE_OUTBOX_LEASE_SECONDS"]),
            "max_attempts": int(s["WAREHOUSE_OUTBOX_MAX_ATTEMPTS"]),
            "max_claims": int(s["WAREHOUSE_OUTBOX_MAX_CLAIMS"]),
            "backoff_base": float(s["WAREHOUSE_OUTBOX_BACKOFF_BASE_SECONDS"]),
            "backoff_cap": float(s["WAREHOUSE_OUTBOX_BACKOFF_CAP_SECONDS"]),
            "seed": int(s["WAREHOUSE_WORKER_SEED"]),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PaperConfig:
    """Paper broker parameters (see :class:`warehouse.execution.broker.matching.MatchParams`)."""

    slippage: float = 0.5
    fee_per_contract: float = 0.65
    noise: float = 0.1
    participation: float = 1.0
    seed: int = 0
    latency_ms: float = 0.0
    passive: bool = True

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> PaperConfig:
        s = s or settings()
        return cls(
            slippage=float(s["WAREHOUSE_PAPER_SLIPPAGE"]),
            fee_per_contract=float(s["WAREHOUSE_PAPER_FEE_PER_CONTRACT"]),
            noise=float(s["WAREHOUSE_PAPER_NOISE"]),
            participation=float(s["WAREHOUSE_PAPER_PARTICIPATION"]),
            seed=int(s["WAREHOUSE_PAPER_SEED"]),
            latency_ms=float(s["WAREHOUSE_PAPER_LATENCY_MS"]),
            passive=_flag(s, "WAREHOUSE_PAPER_PASSIVE_FILLS"),
        )
