"""Behaviour-pattern features: what the user does on the day, and against their own history.

Reads ``day_events`` and ``window_user_day``. History means the user's earlier *active* days in
the trailing window (days before the day itself): without history the ratios and z-scores are 0,
a neutral value that says "as usual". Standard deviations are floored at 1 so a user who always
had exactly ten events does not turn eleven into an infinite z-score.
"""

from __future__ import annotations

from datetime import date

from tasks.features.engine import sql_date

COLUMNS = (
    "view_to_cart_ratio", "cart_to_purchase_ratio", "spend_sum", "spend_max", "spend_log_ratio_to_median",
    "distinct_items", "distinct_categories", "n_reviews", "reviews_per_purchase", "n_coupon_applies",
    "payment_failure_rate", "night_share", "events_zscore", "spend_zscore", "sessions_zscore",
)

NIGHT_END_HOUR = 6


def query(day: date) -> str:
    d = sql_date(day)
    return f"""
        WITH today AS (
            SELECT user_id,
                   count(*) FILTER (WHERE event_type = 'view') AS views,
                   count(*) FILTER (WHERE event_type = 'add_to_cart') AS cart_adds,
                   count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
                   count(*) FILTER (WHERE event_type = 'payment_failed') AS payment_failures,
                   count(*) FILTER (WHERE event_type = 'review') AS reviews,
                   count(*) FILTER (WHERE event_type = 'coupon_apply') AS coupon_applies,
                   coalesce(max(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0) AS spend_max,
                   count(DISTINCT item_id) AS distinct_items,
                   count(DISTINCT category) AS distinct_categories,
                   avg(CASE WHEN hour(ts) < {NIGHT_END_HOUR} THEN 1.0 ELSE 0.0 END) AS night_share
            FROM (SELECT user_id, event_type, price, quantity, item_id, category, ts FROM day_events)
            GROUP BY user_id
        ),
        summary_today AS (
            SELECT user_id, n_events, n_sessions, spend_sum FROM window_user_day WHERE date = {d}
        ),
        history_days AS (
            -- sorted first: a float mean or std then never depends on the order rows arrive in
            SELECT user_id, count(*) AS n_days, median(spend_sum) AS spend_median,
                   list_sort(list(n_events)) AS events, list_sort(list(spend_sum)) AS spends,
                   list_sort(list(n_sessions)) AS sessions
            FROM window_user_day WHERE date < {d}
            GROUP BY user_id
        ),
        history AS (
            SELECT user_id, n_days, spend_median,
                   list_avg(events) AS events_mean, greatest(coalesce(list_stddev_samp(events), 0), 1) AS events_std,
                   list_avg(spends) AS spend_mean, greatest(coalesce(list_stddev_samp(spends), 0), 1) AS spend_std,
                   list_avg(sessions) AS sessions_mean,
                   greatest(coalesce(list_stddev_samp(sessions), 0), 1) AS sessions_std
            FROM history_days
        )
        SELECT t.user_id,
               (cart_adds / greatest(views, 1))::DOUBLE AS view_to_cart_ratio,
               (purchases / greatest(cart_adds, 1))::DOUBLE AS cart_to_purchase_ratio,
               s.spend_sum::DOUBLE AS spend_sum,
               spend_max::DOUBLE AS spend_max,
               coalesce(ln(1 + s.spend_sum) - ln(1 + h.spend_median), 0)::DOUBLE AS spend_log_ratio_to_median,
               distinct_items::DOUBLE AS distinct_items,
               distinct_categories::DOUBLE AS distinct_categories,
               reviews::DOUBLE AS n_reviews,
               (reviews / greatest(purchases, 1))::DOUBLE AS reviews_per_purchase,
               coupon_applies::DOUBLE AS n_coupon_applies,
               coalesce(payment_failures / nullif(payment_failures + purchases, 0), 0)::DOUBLE AS payment_failure_rate,
               night_share::DOUBLE AS night_share,
               (CASE WHEN h.n_days >= 2 THEN (s.n_events - h.events_mean) / h.events_std ELSE 0 END)::DOUBLE AS events_zscore,
               (CASE WHEN h.n_days >= 2 THEN (s.spend_sum - h.spend_mean) / h.spend_std ELSE 0 END)::DOUBLE AS spend_zscore,
               (CASE WHEN h.n_days >= 2 THEN (s.n_sessions - h.sessions_mean) / h.sessions_std ELSE 0 END)::DOUBLE AS sessions_zscore
        FROM today t
        JOIN summary_today s USING (user_id)
        LEFT JOIN history h USING (user_id)"""
