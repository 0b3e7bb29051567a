"""What cloud workers cost per hour, from the site's price table.

Layer: pure. The planner's budget checks use the same table (``ec2.prices``),
so a price the site did not list can never slip past a budget: config
validation refuses an instance type without a price.
"""

from __future__ import annotations

from elastic.config import Site


def instance_hourly_cost(site: Site, instance_type: str) -> float:
    if site.ec2 is None:
        return 0.0
    return site.ec2.prices.get(instance_type, 0.0)
