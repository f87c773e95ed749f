"""The bundled demo news web (four fictional outlets on one loopback server).

``pipeline.demo.server.DemoSite`` serves it; ``pipeline.demo.catalog`` is the ground truth
(what every article page says) that tests compare the pipeline's output against.
"""

from pipeline.demo.catalog import DEMO_DAYS, MAIN_DAY, DemoArticle, load_catalog
from pipeline.demo.server import DemoSite

__all__ = ["DEMO_DAYS", "MAIN_DAY", "DemoArticle", "DemoSite", "load_catalog"]
