"""`rota simulate`: a desk run through the real engine, and what it says about a policy.

`desk` runs the simulation, `contacts` draws the contacts' attributes,
`presence` keeps who holds what while absent, `measures` sums the decisions
up, `releases` puts SPEC 4.1's releases beside a run without `reassign`, and
`report` writes the HTML report and the terminal summary.
"""

from .desk import SimulationRun, SimulationSettings, simulate

__all__ = ["SimulationRun", "SimulationSettings", "simulate"]
