"""Plots of simulation results, drawn headless (matplotlib's Agg canvas) into PNG files.

:mod:`simulator.plots.sweep`: a sweep table's line plots with interval bands, heatmaps
and the cost/fill-rate Pareto front.
"""
