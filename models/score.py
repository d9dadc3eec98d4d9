"""What scoring one image answers: a :class:`Score` and the two verdicts it can carry.

A plain value type with no dependencies, so that the model interface (:mod:`models.base`), the
scoring code (:mod:`models.scoring`), the app and the CLI can all name it without importing each
other.  How the numbers are computed is in :mod:`models.scoring`'s docstring; in short,
``bits_per_dim = -log_likelihood_nats / (C·H·W · ln 2)`` and ``verdict`` is
``OUT_OF_DISTRIBUTION`` exactly when ``ood_statistic`` exceeds the calibrated threshold.
"""
from __future__ import annotations

import dataclasses
from typing import Any

#: Values a :attr:`Score.verdict` can take.
IN_DISTRIBUTION = "in-distribution"
OUT_OF_DISTRIBUTION = "out-of-distribution"


@dataclasses.dataclass(frozen=True)
class Score:
    """How likely a model finds one image, and whether it looks out of distribution."""

    log_likelihood_nats: float | None
    bits_per_dim: float | None
    ood_statistic: float
    percentile: float
    verdict: str
    method: str
    #: the verdict rests on an approximation, not a likelihood (a GAN's inversion): say so beside it
    approximate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
