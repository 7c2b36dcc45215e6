"""The synthetic demo region: realistic, clearly synthetic incidents for the seven countries.

``generate_region`` streams incident and victim frames in the canonical schema (homicides
calibrated to each country's latest UNODC rate); ``demo_layers`` and ``write_demo`` give the
synthetic markets, bus stops, schools and bars the incidents cluster around.
"""

from safestreets.demo._generate import VICTIM_COLUMNS, DemoChunk
from safestreets.demo.layers import LAYERS, demo_layers, write_demo
from safestreets.demo.region import generate_region

__all__ = ["LAYERS", "VICTIM_COLUMNS", "DemoChunk", "demo_layers", "generate_region", "write_demo"]
