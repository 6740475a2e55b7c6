"""Output distributions: network parameters -> log-probabilities in nats, samples and modes."""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import ConfigError
from .base import Distribution, bits_per_dim
from .bernoulli import Bernoulli
from .categorical import Categorical
from .categorical_linear import LinearDependentCategorical
from .channel_mixture import ChannelwiseLogisticMixture
from .logistic_mixture import DiscretizedLogisticMixture

DISTRIBUTIONS: dict[str, type[Distribution]] = {
    Categorical.name: Categorical,
    Bernoulli.name: Bernoulli,
    DiscretizedLogisticMixture.name: DiscretizedLogisticMixture,
    LinearDependentCategorical.name: LinearDependentCategorical,
    ChannelwiseLogisticMixture.name: ChannelwiseLogisticMixture,
}


def build_distribution(name: str, num_channels: int, num_levels: int, **kwargs: Any) -> Distribution:
    """The distribution called ``name`` for images of ``num_channels`` channels with ``num_levels`` levels.

    ``kwargs`` go to the constructor (e.g. ``num_mixtures`` for "logistic_mixture"); an unknown
    name or keyword raises ConfigError listing the valid ones.
    """
    if name not in DISTRIBUTIONS:
        raise ConfigError(f"unknown distribution {name!r}; valid names: {', '.join(sorted(DISTRIBUTIONS))}")
    cls = DISTRIBUTIONS[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "num_channels", "num_levels"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ConfigError(f"distribution {name!r} does not take {', '.join(unknown)}; "
                          f"valid options: {', '.join(sorted(accepted)) or 'none'}")
    return cls(num_channels, num_levels, **kwargs)


__all__ = ["Bernoulli", "Categorical", "ChannelwiseLogisticMixture", "DISTRIBUTIONS", "DiscretizedLogisticMixture", "Distribution",
           "LinearDependentCategorical",
           "bits_per_dim", "build_distribution"]
