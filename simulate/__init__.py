"""Simulation of decisions on real demand: the replay of ordering policies day by day."""
