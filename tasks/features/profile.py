"""User-profile features: who the user is on the day (one row per user active on the day).

Reads ``day_events`` (who is active), ``users`` and ``window_user_day`` (first purchase seen).
A user missing from the users table gets account age 0, age band 0 and null segment / country.
(DuckDB's ``greatest`` skips NULLs, so it doubles as "clamp at 0, and 0 when unknown".)
"""

from __future__ import annotations

from datetime import date, timedelta

from tasks.features.engine import sql_date

COLUMNS = ("account_age_days", "days_signup_to_first_purchase", "log_minutes_signup_to_first_purchase", "age_band",
           "segment", "country")

_DAY_US = 86_400e6


def query(day: date) -> str:
    day_end = (day + timedelta(days=1)).isoformat()
    return f"""
        WITH active AS (SELECT DISTINCT user_id FROM day_events),
        first_purchase AS (
            SELECT user_id, min(first_purchase_ts) AS first_purchase_ts
            FROM window_user_day WHERE date <= {sql_date(day)} GROUP BY user_id
        ),
        joined AS (
            SELECT a.user_id, u.segment, u.country, u.birth_year,
                   greatest((epoch_us(TIMESTAMPTZ '{day_end} 00:00:00+00') - epoch_us(u.signup_ts)) / {_DAY_US}, 0)
                       AS account_age_days,
                   (epoch_us(f.first_purchase_ts) - epoch_us(u.signup_ts)) / {_DAY_US} AS to_purchase_days
            FROM active a
            LEFT JOIN users u USING (user_id)
            LEFT JOIN first_purchase f USING (user_id)
        )
        SELECT user_id,
               coalesce(account_age_days, 0)::DOUBLE AS account_age_days,
               greatest(coalesce(to_purchase_days, account_age_days), 0)::DOUBLE AS days_signup_to_first_purchase,
               -- minutes on a log scale: a purchase 2 minutes after sign-up must stand out from one
               -- after 2 days, which the days above (IQR of months) would robust-scale to almost nothing
               ln(1 + greatest(coalesce(to_purchase_days, account_age_days), 0) * 1440)::DOUBLE
                   AS log_minutes_signup_to_first_purchase,
               (CASE WHEN birth_year IS NULL THEN 0
                     WHEN {day.year} - birth_year < 25 THEN 1
                     WHEN {day.year} - birth_year < 35 THEN 2
                     WHEN {day.year} - birth_year < 45 THEN 3
                     WHEN {day.year} - birth_year < 55 THEN 4
                     ELSE 5 END)::DOUBLE AS age_band,
               segment::VARCHAR AS segment,
               country::VARCHAR AS country
        FROM joined"""
