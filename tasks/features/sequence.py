"""Behaviour-sequence features: how the day's events unfold in time (one row per user).

Reads ``day_events``. Ties in time are broken by event_id so the output never depends on file order.
Gaps and dwell times are summed as integer microseconds (exact), so the means and standard
deviations come out bit for bit the same whatever order threads or user shards add them up in.
"""

from __future__ import annotations

COLUMNS = (
    "n_events", "n_logins", "n_views", "n_searches", "n_cart_adds", "n_purchases", "n_sessions",
    "events_per_session", "gap_mean_s", "gap_std_s", "gap_min_s", "gap_share_under_1s",
    "dwell_per_view_s", "path_length_to_purchase", "burstiness",
)


def query() -> str:
    return """
        WITH timed AS (
            SELECT user_id, session_id, event_type,
                   epoch_us(ts) - epoch_us(lag(ts) OVER by_user) AS gap_us,
                   CASE WHEN event_type = 'view'
                        THEN epoch_us(lead(ts) OVER by_session) - epoch_us(ts) END AS dwell_us,
                   row_number() OVER by_session AS position_in_session
            FROM (SELECT user_id, session_id, event_type, ts, event_id FROM day_events)
            WINDOW by_user AS (PARTITION BY user_id ORDER BY ts, event_id),
                   by_session AS (PARTITION BY user_id, session_id ORDER BY ts, event_id)
        ),
        per_user AS (
            SELECT user_id,
                   count(*) AS n_events,
                   count(*) FILTER (WHERE event_type = 'login') AS n_logins,
                   count(*) FILTER (WHERE event_type = 'view') AS n_views,
                   count(*) FILTER (WHERE event_type = 'search') AS n_searches,
                   count(*) FILTER (WHERE event_type = 'add_to_cart') AS n_cart_adds,
                   count(*) FILTER (WHERE event_type = 'purchase') AS n_purchases,
                   count(DISTINCT session_id) AS n_sessions,
                   count(gap_us) AS n_gaps,
                   avg(gap_us) / 1e6 AS gap_mean_s,
                   -- population std from exact sums: sqrt(n * sum(x^2) - sum(x)^2) / n (gaps sum to under a day)
                   sqrt((count(gap_us) * sum(gap_us::HUGEINT * gap_us) - sum(gap_us) * sum(gap_us))::DOUBLE)
                       / count(gap_us) / 1e6 AS gap_std_s,
                   min(gap_us) / 1e6 AS gap_min_s,
                   avg(CASE WHEN gap_us < 1000000 THEN 1.0 WHEN gap_us IS NOT NULL THEN 0.0 END) AS gap_share_under_1s,
                   avg(dwell_us) / 1e6 AS dwell_per_view_s
            FROM timed
            GROUP BY user_id
        ),
        purchase_paths AS (
            -- events before the first purchase of each session that has one
            SELECT user_id, avg(first_purchase_position - 1) AS path_length_to_purchase
            FROM (SELECT user_id, session_id, min(position_in_session) AS first_purchase_position
                  FROM timed WHERE event_type = 'purchase' GROUP BY user_id, session_id)
            GROUP BY user_id
        )
        SELECT p.user_id,
               n_events::DOUBLE AS n_events,
               n_logins::DOUBLE AS n_logins,
               n_views::DOUBLE AS n_views,
               n_searches::DOUBLE AS n_searches,
               n_cart_adds::DOUBLE AS n_cart_adds,
               n_purchases::DOUBLE AS n_purchases,
               n_sessions::DOUBLE AS n_sessions,
               n_events / n_sessions AS events_per_session,
               coalesce(gap_mean_s, 0) AS gap_mean_s,
               CASE WHEN n_gaps >= 2 THEN gap_std_s ELSE 0 END AS gap_std_s,
               coalesce(gap_min_s, 0) AS gap_min_s,
               coalesce(gap_share_under_1s, 0) AS gap_share_under_1s,
               coalesce(dwell_per_view_s, 0) AS dwell_per_view_s,
               coalesce(q.path_length_to_purchase, 0)::DOUBLE AS path_length_to_purchase,
               CASE WHEN n_gaps >= 2 AND gap_std_s + gap_mean_s > 0
                    THEN (gap_std_s - gap_mean_s) / (gap_std_s + gap_mean_s) ELSE 0 END AS burstiness
        FROM per_user p LEFT JOIN purchase_paths q USING (user_id)"""
