"""A synthetic city for tests and benchmarks: roster, feeds and the alerts they must raise."""

from simulate.city import CityStats, simulate_city

__all__ = ["CityStats", "simulate_city"]
