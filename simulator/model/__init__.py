"""The SimPy model: stock points, lanes, customers. It never computes statistics:
it announces state changes to listeners (see :mod:`simulator.model.events`)."""
from simulator.model.events import DEMAND, RECEIPT, REVIEW, StockListener
from simulator.model.network import Network
from simulator.model.stockpoint import StockPoint, StockView

__all__ = ["DEMAND", "RECEIPT", "REVIEW", "Network", "StockListener", "StockPoint", "StockView"]
