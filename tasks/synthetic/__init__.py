"""The synthetic e-commerce world: customers, their daily events, bad actors, and labels.

``generate_world(layout, WorldConfig(...))`` writes the raw data contract (DESIGN.md) under the
data root; ``flows.generate`` runs the same steps as Prefect tasks.
"""

from tasks.synthetic.config import (
    DaySummary,
    Difficulty,
    GenerationSummary,
    InvalidWorldConfig,
    WorldConfig,
)
from tasks.synthetic.population import Population, build_population
from tasks.synthetic.schema import (
    ANOMALY_KINDS,
    EVENT_SCHEMA,
    EVENT_TYPES,
    LABEL_SCHEMA,
    USER_SCHEMA,
)
from tasks.synthetic.world import generate_day, generate_world, write_users

__all__ = [
    "ANOMALY_KINDS", "EVENT_SCHEMA", "EVENT_TYPES", "LABEL_SCHEMA", "USER_SCHEMA",
    "DaySummary", "Difficulty", "GenerationSummary", "InvalidWorldConfig", "Population", "WorldConfig",
    "build_population", "generate_day", "generate_world", "write_users",
]
