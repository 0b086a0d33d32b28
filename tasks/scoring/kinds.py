"""A first guess at the kind of anomaly behind an alert, from the features that raised its score.

``top_features`` lists only features that moved the score up (most first; see
tasks/registry/serving.py). A kind is guessed from evidence, never from one weak feature:

1. the first feature that is a *telling* signal of a kind decides (failed payments say card
   testing; a card shared across accounts says payment fraud), or else
2. the kind most of the features support wins, if at least ``MIN_SUPPORTING`` do (volume,
   timing and device features alone say little: most anomalies raise some of them), or else
3. the guess is ``UNKNOWN_KIND``.

It is a hint for on-call, not a label. Kind names follow tasks.synthetic's anomaly kinds, plus
``payment_fraud`` (stolen cards, first-purchase fraud) which real order tables are about.
"""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN_KIND = "unknown"
MIN_SUPPORTING = 2


@dataclass(frozen=True)
class KindRule:
    kind: str
    telling: tuple[str, ...]     # name fragments: one such feature is enough
    supporting: tuple[str, ...]  # name fragments: it takes MIN_SUPPORTING such features
    hint: str


# Matched against tasks.features.catalogue names, in this order.
KIND_RULES: tuple[KindRule, ...] = (
    KindRule("card_testing", ("payment_failure",), ("n_purchases", "distinct_payments"), "many failed payments"),
    KindRule("coupon_abuse", ("coupon",), ("account_age", "device_shared_users", "ip_shared_users"),
             "unusual coupon use"),
    KindRule("fake_reviews", ("review",), ("distinct_items", "spend_max"), "reviews on cheap purchases"),
    # A short time from sign-up to purchase only supports: the feature names carry no direction.
    KindRule("payment_fraud", ("payment_shared_users",),
             ("signup_to_first_purchase", "spend", "device_shared_users", "ip_shared_users", "account_age",
              "distinct_payments"),
             "a card shared across accounts or a purchase right after sign-up"),
    KindRule("account_takeover", ("new_countries", "foreign_country"),
             ("new_devices", "new_ips", "distinct_devices", "distinct_ips", "login", "spend"),
             "new devices, IPs or country and unusual spend"),
    KindRule("click_fraud", (), ("distinct_items", "distinct_categories", "dwell", "view_to_cart", "n_views"),
             "the same few items viewed over and over"),
    KindRule("scraper_bot", (), ("n_views", "n_searches", "n_events", "session", "gap_", "burstiness", "night",
                                 "activity", "events_zscore"),
             "many fast views without purchases"),
)


def _features(top_features: str) -> list[str]:
    return [f.strip().lower() for f in (top_features or "").split(";") if f.strip()]


def guess_kind(top_features: str) -> str:
    """``"payment_failure_rate;n_views"`` -> ``"card_testing"``; ``UNKNOWN_KIND`` without enough evidence."""
    features = _features(top_features)
    for feature in features:
        for rule in KIND_RULES:
            if any(fragment in feature for fragment in rule.telling):
                return rule.kind
    support = {rule.kind: sum(1 for feature in features if any(fragment in feature for fragment in rule.supporting))
               for rule in KIND_RULES}
    best = max(support, key=support.__getitem__)  # ties: the earlier rule
    return best if support[best] >= MIN_SUPPORTING else UNKNOWN_KIND
