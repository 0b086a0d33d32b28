"""`shopguard ingest`: the two example mappings on small tables, rows that cannot be mapped, bad mappings."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tasks.ingest.mapping import MappingError, load_mapping
from tasks.ingest.store import QUARANTINE_FILE, ingest_quarantine, read_source
from tasks.ingest.transform import map_table
from tasks.layout import DataLayout
from tasks.synthetic.schema import EVENT_SCHEMA, LABEL_SCHEMA, USER_SCHEMA

EXAMPLES = Path(__file__).resolve().parent.parent / "infra" / "ingest"
ORDER_HEADER = "user_id,signup_time,purchase_time,purchase_value,device_id,source,browser,sex,age,ip_address,class"
ORDERS = [
    "22058,2015-02-24 22:55:49,2015-04-18 02:47:11,34,QVPSPJUOCKZAR,SEO,Chrome,M,39,732758368.8,0",
    "333320,2015-06-07 20:39:50,2015-06-08 01:38:54,16,EOGFQPIZPYXFZ,Ads,Chrome,F,53,350311387.9,0",
    "1359,2015-01-01 18:52:44,2015-01-01 18:52:45,15,YSSKYOSJHPPLJ,SEO,Opera,M,53,2621473820,1",
    "150084,2015-04-28 21:13:25,2015-04-18 02:47:55,44,ATGTXKYKUDUQN,SEO,Safari,M,41,3840542444,0",
    "221365,2015-07-21 07:09:52,not a time,39,NAUITBZFJKHWW,Ads,Safari,M,45,415583117.5,0",
    "159135,2015-05-21 06:03:03,2015-04-18 08:00:00,-5,ALEYXFXINSXLZ,Ads,Chrome,M,18,2809315200,0",
    "50116,2015-08-01 22:40:52,2015-01-01 23:10:00,11,,Ads,Chrome,F,19,3987484329,0",
    "360585,2015-04-06 07:35:45,2015-01-01 09:00:00,25,YSSKYOSJHPPLJ,SEO,Opera,M,33,2621473820,maybe",
]


def write_orders(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([ORDER_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_order_table_maps_each_order_to_a_purchase_with_its_user_and_label(tmp_path):
    mapping = load_mapping(EXAMPLES / "orders.toml")
    mapped = map_table(read_source(write_orders(tmp_path / "orders.csv", ORDERS)), mapping, "orders")

    assert len(mapped.events) + len(mapped.quarantine) == len(ORDERS)  # nothing dropped
    assert mapped.quarantine.set_index("source_row")["reason"].to_dict() == {
        4: "ts not a timestamp in format %Y-%m-%d %H:%M:%S (purchase_time)",
        5: "price negative (purchase_value)",
        6: "device_id missing (device_id)",
        7: "label neither positive nor negative (class)",
    }
    assert mapped.quarantine.loc[0, "purchase_time"] == "not a time"  # the source values are kept

    events = mapped.events.set_index("user_id")
    assert set(events["event_type"]) == {"purchase"} and set(events["country"]) == {"US"}
    assert events.loc["1359", "ts"] == pd.Timestamp("2015-01-01 18:52:45", tz="UTC")
    assert (events.loc["22058", "price"], events.loc["22058", "quantity"]) == (34.0, 1)
    assert events.loc["1359", "ip"] == "2621473820" and events.loc["1359", "device_id"] == "YSSKYOSJHPPLJ"

    users = mapped.users.set_index("user_id")
    assert users.loc["1359", "signup_ts"] == pd.Timestamp("2015-01-01 18:52:44", tz="UTC")
    assert (users.loc["1359", "birth_year"], users.loc["1359", "gender"]) == (2015 - 53, "M")

    labels = mapped.labels.set_index("user_id")
    assert labels.loc["1359", "is_anomaly"] and labels.loc["1359", "anomaly_type"] == "payment_fraud"
    assert not labels.loc["22058", "is_anomaly"] and pd.isna(labels.loc["22058", "anomaly_type"])
    assert labels.loc["1359", "date"] == date(2015, 1, 1)


def test_click_log_joins_columns_into_a_user_and_converts_its_time_zone(tmp_path):
    clicks = pd.DataFrame({
        "ip": [87540, 87540, 105560, 101424, 94584], "app": [12, 3, 25, 12, 13],
        "device": [1, 1, 1, 1, 1], "os": [13, 13, 17, 19, 13], "channel": [497, 480, 259, 212, 477],
        "click_time": ["2017-11-07 09:30:38", "2017-11-07 13:40:27", "2017-11-07 18:05:24", "", "2017-11-09 23:59:59"],
        "attributed_time": [None] * 5, "is_attributed": [0] * 5,
    })
    clicks.to_parquet(tmp_path / "clicks.parquet")
    mapping = load_mapping(EXAMPLES / "clicks.toml").model_copy(update={"timezone": "Asia/Shanghai"})
    mapped = map_table(read_source(tmp_path / "clicks.parquet"), mapping, "clicks")

    assert mapped.quarantine[["source_row", "reason"]].values.tolist() == [[3, "ts missing (click_time)"]]
    events = mapped.events
    assert events["user_id"].tolist() == ["87540|1|13", "87540|1|13", "105560|1|17", "94584|1|13"]
    assert events["device_id"].iloc[0] == "1|13" and events["item_id"].iloc[0] == "12"
    assert set(events["event_type"]) == {"view"} and events["price"].isna().all()
    assert events["ts"].iloc[0] == pd.Timestamp("2017-11-07 01:30:38", tz="UTC")  # 09:30 in Shanghai
    assert events["session_id"].iloc[0] == events["session_id"].iloc[1] == "87540|1|13-2017-11-07"
    assert mapped.users.set_index("user_id").loc["87540|1|13", "signup_ts"] == events["ts"].iloc[0]
    assert mapped.labels.empty


def test_ingest_command_writes_the_raw_contract_reruns_identically_and_validates(prefect_harness, settings,
                                                                                  tmp_path, capsys):
    from flows.validate import validate_flow

    source = write_orders(tmp_path / "orders.csv", ORDERS)
    before = digest(source)
    argv = ["--data-dir", str(settings.data_dir), "ingest", "--source", str(source),
            "--mapping", str(EXAMPLES / "orders.toml")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ingested 8 rows of orders.csv: 4 events over 3 days" in out and "4 rows quarantined" in out

    layout = DataLayout(settings.data_dir)
    day = date(2015, 1, 1)
    assert pq.read_schema(next(layout.raw_events(day).glob("*.parquet"))).remove_metadata() == EVENT_SCHEMA
    assert pq.read_schema(layout.users).remove_metadata() == USER_SCHEMA
    assert pq.read_schema(layout.labels(day)).remove_metadata() == LABEL_SCHEMA
    quarantine = pq.read_table(ingest_quarantine(layout, source) / QUARANTINE_FILE).to_pandas()
    assert len(quarantine) == 4 and quarantine["reason"].str.len().gt(0).all()

    outputs = {p: digest(p) for p in settings.data_dir.joinpath("raw").rglob("*.parquet")}
    assert main(argv) == 0  # a rerun replaces, never adds
    assert {p: digest(p) for p in settings.data_dir.joinpath("raw").rglob("*.parquet")} == outputs
    assert digest(source) == before  # the source is only read

    summary = validate_flow(day=day, settings=settings)  # ingested rows meet the raw suite
    assert (summary.rows_in, summary.rows_validated, summary.rows_quarantined) == (1, 1, 0)


@pytest.mark.parametrize(("mapping_text", "message"), [
    ('shape = "orders"\n[columns]\nuser_id = "user_id"\n', "columns.ts: Field required"),
    ('shape = "rows"\n', "shape: Input should be 'events' or 'orders'"),
    ('shape = "orders"\ndefault_country = "US"\ntimezone = "Mars/Olympus"\n[columns]\nuser_id = "u"\nts = "t"\n'
     'device_id = "d"\nip = "i"\nprice = "p"\n', "unknown time zone 'Mars/Olympus'"),
    ('shape = "orders"\n[columns\n', "is not valid TOML"),
    ('shape = "orders"\ndefault_country = "US"\ncolour = "red"\n[columns]\nuser_id = "u"\nts = "t"\n'
     'device_id = "d"\nip = "i"\nprice = "p"\n', "colour: Extra inputs are not permitted"),
])
def test_a_bad_mapping_is_one_line_naming_the_field(tmp_path, mapping_text, message):
    path = tmp_path / "mapping.toml"
    path.write_text(mapping_text, encoding="utf-8")
    with pytest.raises(MappingError, match=message) as info:
        load_mapping(path)
    assert "\n" not in str(info.value)


def test_a_mapping_naming_absent_columns_fails_on_one_line_and_writes_nothing(prefect_harness, settings, tmp_path,
                                                                           capsys):
    source = tmp_path / "orders.csv"
    source.write_text("user_id,purchase_time\n1,2015-01-01 00:00:00\n", encoding="utf-8")
    code = main(["--data-dir", str(settings.data_dir), "ingest", "--source", str(source),
                 "--mapping", str(EXAMPLES / "orders.toml")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("shopguard:")]  # not Prefect's logs
    assert code == 1 and len(err) == 1
    assert err[0].startswith("shopguard: error: the source has no column 'device_id', 'ip_address'")
    assert not settings.data_dir.joinpath("raw").exists()


def test_a_table_where_no_row_maps_is_an_error_with_every_row_quarantined(tmp_path):
    from flows.ingest import ingest_flow
    from tasks.errors import ShopguardError
    from tasks.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    source = write_orders(tmp_path / "bad.csv", [ORDERS[4], ORDERS[6]])
    with pytest.raises(ShopguardError, match=r"no row of bad.csv could be mapped \(2 quarantined"):
        ingest_flow.fn(source=source, mapping=EXAMPLES / "orders.toml", settings=settings)
    kept = pq.read_table(ingest_quarantine(DataLayout(settings.data_dir), source) / QUARANTINE_FILE)
    assert kept.num_rows == 2


def test_event_types_are_mapped_and_an_unknown_one_or_a_nonexistent_local_time_is_quarantined(tmp_path):
    mapping_path = tmp_path / "events.toml"
    mapping_path.write_text(
        'shape = "events"\ntimezone = "Europe/Berlin"\n'
        '[columns]\nuser_id = "customer"\nts = "at"\ndevice_id = "device"\nip = "ip"\n'
        'event_type = "action"\nprice = "amount"\ncountry = "cc"\n'
        '[event_types]\nbuy = "purchase"\npage = "view"\n', encoding="utf-8")
    source = pd.DataFrame({
        "customer": ["c1", "c1", "c2", "c3"],
        "at": ["2026-03-29T01:30:00", "2026-03-29T02:30:00", "2026-03-29T12:00:00+00:00", "2026-03-29T12:00:00"],
        "device": ["d"] * 4, "ip": ["i"] * 4, "action": ["page", "buy", "teleport", "buy"],
        "amount": ["", "12.5", "", ""], "cc": ["de", "de", "DE", "DE"],
    })
    mapped = map_table(source, load_mapping(mapping_path), "events")
    assert mapped.quarantine.set_index("source_row")["reason"].to_dict() == {
        1: "ts not a timestamp in ISO 8601 (at)",  # 02:30 does not exist in Berlin that night (clocks go forward)
        2: "event_type not one of the raw event types (action)",
        3: "price missing for a priced event (amount)",
    }
    event = mapped.events.iloc[0]
    assert (event.event_type, event.country, event.ts) == ("view", "DE", pd.Timestamp("2026-03-29 00:30", tz="UTC"))
