"""Procedural X-ray data: threat objects and benign bags, generated from geometry and Beer–Lambert physics.

Nothing here reads an image: the default model is trained on these alone. Optical densities use effective
linear attenuation coefficients for a ~140 kVp baggage scanner (effective energy ~70-90 keV):
steel ≈ 3-4 /cm, aluminium ≈ 0.6 /cm, lead ≈ 15 /cm, water/plastics ≈ 0.18-0.2 /cm. So a 2-3 mm knife
blade has μt ≈ 0.6-1.2, a pistol slide (two ~4 mm steel walls and a barrel) ≈ 2-3.5, a folded shirt ≈ 0.1.

Threats (:func:`make_threat`) come back as :class:`~inspection.xray.tip.Threat` at about 220 px along their
long axis; :func:`benign_bag` renders a whole bag (shell, trolley frame, wheels, zips, clothes, cables,
bottles, electronics, shoes, books, keys, cutlery, umbrellas…) in grey or pseudo-colour;
:func:`scanner_effects` adds the scanner's blur, noise, line gains and edge enhancement.
"""

from inspection.xray.procedural.bags import ProceduralBags, benign_bag, domain_randomise, quantise, scanner_effects
from inspection.xray.procedural.threats import THREAT_KINDS, THREAT_MAKERS, make_threat, random_threats

__all__ = [
    "THREAT_KINDS",
    "THREAT_MAKERS",
    "ProceduralBags",
    "benign_bag",
    "make_threat",
    "domain_randomise",
    "quantise",
    "random_threats",
    "scanner_effects",
]
