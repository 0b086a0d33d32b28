"""Context features: the devices, networks, cards and countries around the user, and the platform's day.

Reads ``window_entities``, ``window_user_day`` and ``users`` only (the compact daily summaries),
never the raw events. "Earlier" means the trailing window's days before the day itself; on a
user's first day every device, IP and country counts as new. Platform volume compares the day's
total events with the median of the earlier days so a promotion day reads as a busy platform,
not as a thousand individually busy users.

Entity features are what fraud rings share: how many other users one of the user's devices, IPs
or payment instruments has seen over the window up to the day, and how many devices and IPs the
account itself went through in that window (its velocity). Those counts and the platform's day
are the only cross-user parts of the feature table (see ``GLOBAL_RELATIONS``). Without a ``payment_id`` column in the
raw events there are no payment entities, and the payment features are 0.
"""

from __future__ import annotations

from datetime import date

from tasks.features.engine import sql_date

COLUMNS = (
    "distinct_devices", "distinct_ips", "distinct_countries", "new_devices", "new_ips", "new_countries",
    "foreign_country_share", "device_shared_users", "ip_shared_users", "distinct_payments", "payment_shared_users",
    "distinct_devices_window", "distinct_ips_window", "platform_volume_ratio", "activity_vs_platform",
)


def entity_users_query(day: date) -> str:
    """Cross-user: how many users each device, IP and payment instrument used on the day has seen.

    Needs every user's entities, so a sharded build computes it once and hands it to the shards
    (relation ``entity_users``); only values used on the day are kept, as only they are looked up.
    """
    d = sql_date(day)
    return f"""
        SELECT e.kind, e.value, count(DISTINCT e.user_id) AS n_users
        FROM window_entities e
        JOIN (SELECT DISTINCT kind, value FROM window_entities
              WHERE date = {d} AND kind IN ('device', 'ip', 'payment')) t USING (kind, value)
        WHERE e.kind IN ('device', 'ip', 'payment') AND e.date <= {d}
        GROUP BY e.kind, e.value"""


def platform_query(day: date) -> str:
    """Cross-user: the platform's day in one row (events, mean events per active user, earlier median)."""
    d = sql_date(day)
    return f"""
        WITH platform_days AS (
            SELECT date, sum(n_events) AS events, count(*) AS active_users FROM window_user_day
            WHERE date <= {d} GROUP BY date
        )
        SELECT (SELECT events FROM platform_days WHERE date = {d}) AS events_today,
               (SELECT events / active_users FROM platform_days WHERE date = {d}) AS mean_events_per_user,
               (SELECT median(events) FROM platform_days WHERE date < {d}) AS earlier_median"""


GLOBAL_RELATIONS = {"entity_users": entity_users_query, "platform": platform_query}


def query(day: date) -> str:
    """Per-user context; reads the cross-user relations ``entity_users`` and ``platform`` (above)."""
    d = sql_date(day)
    return f"""
        WITH today AS (SELECT user_id, kind, value, n_events FROM window_entities WHERE date = {d}),
        earlier AS (SELECT DISTINCT user_id, kind, value FROM window_entities WHERE date < {d}),
        window_per_user AS (
            SELECT user_id,
                   count(DISTINCT value) FILTER (WHERE kind = 'device') AS distinct_devices_window,
                   count(DISTINCT value) FILTER (WHERE kind = 'ip') AS distinct_ips_window
            FROM window_entities
            WHERE kind IN ('device', 'ip') AND date <= {d} AND user_id IN (SELECT user_id FROM today)
            GROUP BY user_id
        ),
        per_user AS (
            SELECT t.user_id,
                   count(*) FILTER (WHERE t.kind = 'device') AS distinct_devices,
                   count(*) FILTER (WHERE t.kind = 'ip') AS distinct_ips,
                   count(*) FILTER (WHERE t.kind = 'country') AS distinct_countries,
                   count(*) FILTER (WHERE t.kind = 'device' AND e.value IS NULL) AS new_devices,
                   count(*) FILTER (WHERE t.kind = 'ip' AND e.value IS NULL) AS new_ips,
                   count(*) FILTER (WHERE t.kind = 'country' AND e.value IS NULL) AS new_countries,
                   max(v.n_users) FILTER (WHERE t.kind = 'device') - 1 AS device_shared_users,
                   max(v.n_users) FILTER (WHERE t.kind = 'ip') - 1 AS ip_shared_users,
                   count(*) FILTER (WHERE t.kind = 'payment') AS distinct_payments,
                   max(v.n_users) FILTER (WHERE t.kind = 'payment') - 1 AS payment_shared_users
            FROM today t
            LEFT JOIN earlier e ON e.user_id = t.user_id AND e.kind = t.kind AND e.value = t.value
            LEFT JOIN entity_users v ON v.kind = t.kind AND v.value = t.value
            GROUP BY t.user_id
        ),
        foreign_share AS (
            SELECT t.user_id,
                   sum(CASE WHEN u.country IS NOT NULL AND t.value IS DISTINCT FROM u.country THEN t.n_events ELSE 0 END)
                       / sum(t.n_events) AS foreign_country_share
            FROM today t LEFT JOIN users u USING (user_id)
            WHERE t.kind = 'country'
            GROUP BY t.user_id
        )
        SELECT p.user_id,
               distinct_devices::DOUBLE AS distinct_devices,
               distinct_ips::DOUBLE AS distinct_ips,
               distinct_countries::DOUBLE AS distinct_countries,
               new_devices::DOUBLE AS new_devices,
               new_ips::DOUBLE AS new_ips,
               new_countries::DOUBLE AS new_countries,
               coalesce(f.foreign_country_share, 0)::DOUBLE AS foreign_country_share,
               coalesce(device_shared_users, 0)::DOUBLE AS device_shared_users,
               coalesce(ip_shared_users, 0)::DOUBLE AS ip_shared_users,
               distinct_payments::DOUBLE AS distinct_payments,
               coalesce(payment_shared_users, 0)::DOUBLE AS payment_shared_users,
               w.distinct_devices_window::DOUBLE AS distinct_devices_window,
               w.distinct_ips_window::DOUBLE AS distinct_ips_window,
               coalesce(pl.events_today / pl.earlier_median, 1)::DOUBLE AS platform_volume_ratio,
               (s.n_events / pl.mean_events_per_user)::DOUBLE AS activity_vs_platform
        FROM per_user p
        JOIN (SELECT user_id, n_events FROM window_user_day WHERE date = {d}) s USING (user_id)
        JOIN window_per_user w USING (user_id)
        LEFT JOIN foreign_share f USING (user_id)
        CROSS JOIN platform pl"""
