"""`rota simulate`: a desk run through the real engine, and what it says about a policy.

`desk` runs the simulation, `contacts` draws the contacts' attributes,
`measures` sums the decisions up and `report` writes the HTML report and the
terminal summary.
"""

from .desk import SimulationRun, SimulationSettings, simulate

__all__ = ["SimulationRun", "SimulationSettings", "simulate"]
