"""How hard a world is to police: camouflaged bad actors, and benign customers who look like them.

At "easy" every bad actor is blatant and nobody innocent looks suspicious (the original world).
"realistic" is what a risk team meets: most fraud stays within human ranges and spreads over
accounts, sessions and days, while power buyers, resellers, offices behind one NAT address,
families on one tablet, travellers and promotion-day crowds trip the obvious rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.synthetic.config import Difficulty


@dataclass(frozen=True)
class DifficultyKnobs:
    camouflaged_share: float   # share of bad-actor rings that use the camouflaged variant of their kind
    power_buyer_share: float   # customers who buy a lot of expensive things, often on new devices
    reseller_share: float      # customers who watch the same listings all day and buy in bulk
    office_share: float        # customers whose workday sessions leave through an office NAT address
    family_share: float        # customers sharing a household device (and often a card)
    p_travel: float            # a user-day abroad, on own devices and a foreign network
    p_new_device: float        # a user-day on a brand-new device
    promotion_rush: bool       # promotion-day sign-ups buy within minutes and stack coupons


KNOBS: dict[str, DifficultyKnobs] = {
    "easy": DifficultyKnobs(0.0, 0.0, 0.0, 0.0, 0.0, p_travel=0.003, p_new_device=0.004, promotion_rush=False),
    "realistic": DifficultyKnobs(0.75, 0.02, 0.01, 0.08, 0.08, p_travel=0.012, p_new_device=0.015,
                                 promotion_rush=True),
    "hard": DifficultyKnobs(0.95, 0.03, 0.015, 0.12, 0.10, p_travel=0.02, p_new_device=0.025, promotion_rush=True),
}


def knobs(difficulty: Difficulty) -> DifficultyKnobs:
    return KNOBS[difficulty]
