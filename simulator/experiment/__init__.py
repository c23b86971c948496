"""Experiments: replications of a scenario, run serially or on local processes."""
from simulator.experiment.replication import ReplicationResult, run_replication
from simulator.experiment.runner import run

__all__ = ["ReplicationResult", "run", "run_replication"]
