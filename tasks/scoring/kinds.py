"""A first guess at the kind of anomaly behind an alert, from its top contributing features.

One small table, read top to bottom: the first feature (most contributing first) whose name
contains one of a rule's fragments decides the guess. It is a hint for on-call, not a label.
"""

from __future__ import annotations

UNKNOWN_KIND = "unclear"

# (kind, name fragments, plain-words hint), matched against tasks.features.catalogue names.
# Specific signals come before generic volume ones, which most anomalies also raise.
KIND_RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("card_testing", ("payment_failure",), "many failed payments"),
    ("coupon_abuse", ("coupon",), "unusual coupon use"),
    ("brushing", ("review",), "reviews on cheap purchases"),
    ("account_takeover", ("new_devices", "new_ips", "new_countries", "countr", "login", "spend"),
     "new device, IP or country, unusual spend"),
    ("click_fraud", ("distinct_items", "distinct_categories", "dwell", "view_to_cart"),
     "the same few items viewed over and over"),
    ("scraper_bot", ("n_views", "n_searches", "n_events", "session", "gap_", "burstiness", "night", "activity",
                     "events_zscore", "shared_users", "distinct_devices", "distinct_ips"),
     "many fast views without purchases"),
)


def guess_kind(top_features: str) -> str:
    """``"n_views;gap_min_s"`` -> ``"scraper_bot"``; ``UNKNOWN_KIND`` when nothing matches."""
    for feature in (f.strip().lower() for f in (top_features or "").split(";")):
        if not feature:
            continue
        for kind, fragments, _hint in KIND_RULES:
            if any(fragment in feature for fragment in fragments):
                return kind
    return UNKNOWN_KIND
