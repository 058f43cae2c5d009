"""The loader end to end: landing files in, raw / quarantine / audit Parquet out.

Every test builds its own small export under tmp_path (L2C_LANDING_DIR / L2C_RAW_DIR point there),
so nothing depends on the demo generator or on the repository's data/ folder.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from l2c import schema
from l2c.errors import L2CInputError
from l2c.ingest.load import LoadReport, load_export

D = dt.date(2024, 3, 1)
LEADS_HEADER = "lead_id,created_at,updated_at,email,phone,status,lead_score,mql_at"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    landing, raw = tmp_path / "landing", tmp_path / "raw"
    monkeypatch.setenv("L2C_LANDING_DIR", str(landing))
    monkeypatch.setenv("L2C_RAW_DIR", str(raw))
    monkeypatch.setenv("L2C_BUSINESS_TZ", "Asia/Shanghai")
    monkeypatch.delenv("L2C_MAPPINGS_DIR", raising=False)
    return SimpleNamespace(landing=landing, raw=raw)


def export(
    env: SimpleNamespace, source: str, files: dict[str, tuple[str, str | bytes]], day: dt.date = D
) -> Path:
    """Write an export; entities not in ``files`` get a header-only canonical CSV."""
    d = env.landing / source / day.isoformat()
    d.mkdir(parents=True, exist_ok=True)
    for e in schema.entities_of(source):
        name, content = files.get(e.name, (f"{e.name}.csv", ",".join(e.columns) + "\n"))
        (d / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return d


def rows(path: Path, order: str = "_source_line") -> list[dict]:
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{path}', hive_partitioning=false) ORDER BY {order}")
    names = rel.columns
    return [dict(zip(names, r)) for r in rel.fetchall()]


def raw(env, entity: str, source: str = "ma", day: dt.date = D) -> list[dict]:
    return rows(env.raw / source / entity / f"export_date={day}" / "part-0.parquet")


def quarantine(env, entity: str, source: str = "ma", day: dt.date = D) -> list[dict]:
    return rows(env.raw / "_quarantine" / source / entity / f"export_date={day}" / "part-0.parquet", "line")


def audit(env, source: str = "ma", day: dt.date = D) -> dict[str, dict]:
    return {
        r["entity"]: r
        for r in rows(env.raw / "_audit" / source / f"export_date={day}" / "part-0.parquet", "entity")
    }


def leads_csv(*lines: str) -> str:
    return "\n".join((LEADS_HEADER, *lines)) + "\n"


# -- the happy path -----------------------------------------------------------------------------------


def test_canonical_headers_need_no_mapping_and_raw_has_schema_types(env):
    export(
        env,
        "ma",
        {
            "leads": (
                "leads.csv",
                leads_csv("L1,2024-03-01 08:00:00,2024-03-01 09:00:00,a@b.cn,13800138000,new,5,"),
            )
        },
    )
    report = load_export("ma", D, run_id="run-1")
    assert isinstance(report, LoadReport)
    assert report.entities["leads"].rows_loaded == 1 and report.rows_quarantined == 0

    con = duckdb.connect()
    path = env.raw / "ma" / "leads" / f"export_date={D}" / "part-0.parquet"
    described = con.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning=false)").fetchall()
    entity = schema.get_entity("ma", "leads")
    expected = [(c, schema.RAW_TYPES[t]) for c, t in entity.columns.items()]
    expected += [
        ("_export_date", "DATE"),
        ("_source_file", "VARCHAR"),
        ("_source_line", "BIGINT"),
        ("_run_id", "VARCHAR"),
    ]
    assert [(r[0], r[1].replace(" ", "")) for r in described] == expected

    (row,) = raw(env, "leads")
    assert row["lead_id"] == "L1"
    assert row["created_at"] == dt.datetime(2024, 3, 1, 0, 0)  # Asia/Shanghai 08:00 -> UTC 00:00
    assert row["lead_score"] == 5 and row["status"] == "new" and row["phone"] == "+8613800138000"
    assert row["job_title"] is None  # not in the file: NULL
    assert row["_export_date"] == D and row["_source_file"] == "ma/2024-03-01/leads.csv"
    assert row["_source_line"] == 2 and row["_run_id"] == "run-1"

    # every entity gets raw + quarantine partitions, empty or not, and one audit row per file
    for e in schema.entities_of("ma"):
        assert (env.raw / "ma" / e.name / f"export_date={D}" / "part-0.parquet").exists()
        assert (env.raw / "_quarantine" / "ma" / e.name / f"export_date={D}" / "part-0.parquet").exists()
    assert raw(env, "activities") == [] and quarantine(env, "leads") == []
    a = audit(env)
    assert set(a) == {"leads", "activities", "campaign_spend"}
    assert (
        a["leads"]["rows_in"] == 1 and a["leads"]["rows_loaded"] == 1 and a["leads"]["rows_quarantined"] == 0
    )
    assert (
        a["leads"]["format"] == "csv"
        and a["leads"]["encoding"] == "utf-8"
        and a["leads"]["run_id"] == "run-1"
    )
    assert (
        len(a["leads"]["checksum_sha256"]) == 64
        and a["leads"]["bytes"] == (env.landing / "ma/2024-03-01/leads.csv").stat().st_size
    )

    # the quarantine partition has the documented columns even when empty
    q = env.raw / "_quarantine" / "ma" / "leads" / f"export_date={D}" / "part-0.parquet"
    assert [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM read_parquet('{q}', hive_partitioning=false)").fetchall()] == [
        "source", "entity", "export_date", "file", "line", "column", "reason", "detail", "raw_record", "run_id",
    ]  # fmt: skip
    assert "leads" in report.summary() and "1 loaded" in report.summary()


def test_vendor_headers_are_mapped_and_unmapped_ones_reported(env):
    text = "线索ID,创建时间,最后修改时间,邮箱,手机,线索状态,备注\nL1,2024-03-01 08:00,2024-03-01 08:00,X@Y.CN,13800138000,new,hello\n"
    export(env, "ma", {"leads": ("线索.csv", text)})
    load_export("ma", D)
    (row,) = raw(env, "leads")
    assert (row["lead_id"], row["email"], row["status"]) == ("L1", "x@y.cn", "new")
    assert row["_source_file"] == "ma/2024-03-01/线索.csv"
    assert audit(env)["leads"]["unmapped_headers"] == "备注"


# -- dirty data -----------------------------------------------------------------------------------------


def test_dirty_rows_are_typed_or_quarantined_with_a_reason(env):
    text = leads_csv(
        "L1,2024-03-01 08:00:00,2024-03-01 09:00:00,  Alice@Example.COM ,+86 138-0013-8000,New,12,",
        "L2,2024-03-01 08:00:00,2024-03-01 09:00:00,bob@x.cn,008613800138000,mql,1.0,2024-02-01 00:00:00",
        "L3,2024-02-30 10:00:00,2024-03-01 09:00:00,c@x.cn,13800138000,new,1,",
        ",2024-03-01 08:00:00,2024-03-01 09:00:00,d@x.cn,13800138000,new,1,",
        "L5,2024-03-01 08:00:00,2024-03-01 09:00:00,e@x.cn,13800138000,new",
        "L6,2024-03-01 08:00:00,2024-03-01 09:00:00,f@x.cn,13800138000,new,1,,extra",
        "L7,2024-03-01 08:00:00,2024-03-01 09:00:00,g@x.cn,13800138000,weird,1,",
        "L8,2024-03-01 08:00:00,2024-03-01 09:00:00,no-at-sign,13800138000,new,1,",
        "L9,2024-03-01 08:00:00,2024-03-01 09:00:00,h@x.cn,12345,new,1,",
        "L10,2024-03-01 08:00:00,2024-03-01 09:00:00,i@x.cn,86 138 0013 8000,new,abc,",
        "L11,,2024-03-01 09:00:00,j@x.cn,13800138000,new,1,",
    )
    export(env, "ma", {"leads": ("leads.csv", text)})
    report = load_export("ma", D)
    loaded = {r["lead_id"]: r for r in raw(env, "leads")}
    assert set(loaded) == {"L1", "L2"}
    assert loaded["L1"]["email"] == "alice@example.com" and loaded["L1"]["phone"] == "+8613800138000"
    assert loaded["L1"]["status"] == "new"  # accepted values are matched case-insensitively
    assert loaded["L2"]["phone"] == "+8613800138000" and loaded["L2"]["lead_score"] == 1
    # stage dates out of order (MQL before creation) are kept: ordering is dbt's business
    assert loaded["L2"]["mql_at"] < loaded["L2"]["created_at"]

    q = {r["line"]: r for r in quarantine(env, "leads")}
    assert {line: (r["reason"], r["column"]) for line, r in q.items()} == {
        4: ("bad_timestamp", "created_at"),
        5: ("missing_key", "lead_id"),
        6: ("short_row", None),
        7: ("long_row", None),
        8: ("unexpected_value", "status"),
        9: ("bad_email", "email"),
        10: ("bad_phone", "phone"),
        11: ("bad_integer", "lead_score"),
        12: ("missing_required", "created_at"),
    }
    assert "2024-02-30 10:00:00" in q[4]["detail"]
    assert json.loads(q[4]["raw_record"])["created_at"] == "2024-02-30 10:00:00"
    assert json.loads(q[6]["raw_record"]) == dict(
        zip(
            LEADS_HEADER.split(",")[:6],
            ["L5", "2024-03-01 08:00:00", "2024-03-01 09:00:00", "e@x.cn", "13800138000", "new"],
        )
    )
    assert q[7]["raw_record"].endswith(",extra")
    assert all(r["source"] == "ma" and r["entity"] == "leads" and r["export_date"] == D for r in q.values())

    e = report.entities["leads"]
    assert e.rows_in == 11 == e.rows_loaded + e.rows_quarantined
    assert e.reasons["short_row"] == 1 and report.quarantine_reasons["bad_phone"] == 1
    a = audit(env)["leads"]
    assert (a["rows_in"], a["rows_loaded"], a["rows_quarantined"]) == (11, 2, 9)


def test_row_with_several_problems_is_quarantined_once_first_column_wins(env):
    export(
        env, "ma", {"leads": ("leads.csv", leads_csv("L1,nope,2024-03-01,bad-email,13800138000,weird,x,"))}
    )
    load_export("ma", D)
    (q,) = quarantine(env, "leads")
    assert (q["reason"], q["column"]) == ("bad_timestamp", "created_at")
    for part in ("created_at", "email", "status", "lead_score"):
        assert part in q["detail"]


def test_amounts_thousands_separators_currency_and_negative(env):
    header = "opportunity_id,created_at,updated_at,amount,currency\n"
    body = (
        'O1,2024-03-01,2024-03-01,"1,234.50",CNY\n'
        "O2,2024-03-01,2024-03-01,¥2000,CNY\n"
        'O3,2024-03-01,2024-03-01,"CNY 3,000",CNY\n'
        "O4,2024-03-01,2024-03-01,abc,CNY\n"
        "O5,2024-03-01,2024-03-01,-5,CNY\n"
        "O6,2024-03-01,2024-03-01,￥ 12.345,CNY"
    )
    export(env, "crm", {"opportunities": ("opportunities.csv", header + body + "\n")})
    load_export("crm", D)
    amounts = {r["opportunity_id"]: r["amount"] for r in raw(env, "opportunities", "crm")}
    assert amounts == {
        "O1": Decimal("1234.50"),
        "O2": Decimal("2000.00"),
        "O3": Decimal("3000.00"),
        "O6": Decimal("12.35"),
    }
    q = {r["line"]: r["reason"] for r in quarantine(env, "opportunities", "crm")}
    assert q == {5: "bad_decimal", 6: "negative_amount"}


def test_phone_forms_are_normalised_to_e164(env):
    phones = {
        "P1": "+86 138-0013-8000",
        "P2": "13800138000",
        "P3": "008613800138000",
        "P4": "86 138 0013 8000",
        "P5": "010-62345678",  # Beijing landline: via phonenumbers
        "P6": "(021) 5555 1234",
        "P7": "+1 650-253-0000",
        "P8": " 13900139000 ",
    }
    lines = [f'{k},2024-03-01,2024-03-01,k@x.cn,"{v}",new,1,' for k, v in phones.items()]
    export(
        env,
        "ma",
        {"leads": ("leads.csv", leads_csv(*lines, "P9,2024-03-01,2024-03-01,k@x.cn,not a phone,new,1,"))},
    )
    load_export("ma", D)
    got = {r["lead_id"]: r["phone"] for r in raw(env, "leads")}
    assert got == {
        "P1": "+8613800138000",
        "P2": "+8613800138000",
        "P3": "+8613800138000",
        "P4": "+8613800138000",
        "P5": "+861062345678",
        "P6": "+862155551234",
        "P7": "+16502530000",
        "P8": "+8613900139000",
    }
    (q,) = quarantine(env, "leads")
    assert (q["reason"], q["column"], q["line"]) == ("bad_phone", "phone", 10)
    assert "not a phone" in q["detail"]


def test_naive_local_time_is_business_time_and_stored_as_utc(env):
    lines = [
        "T1,2024-03-01 08:00:00,2024-03-01T08:00:00Z,a@x.cn,,new,,",
        "T2,2024/03/01 08:00,2024-03-01T08:00:00+08:00,a@x.cn,,new,,",
        "T3,2024-03-01,2024-03-01 08:00:00 +08:00,a@x.cn,,new,,",
        "T4,2024年3月1日 08:00,2024-03-01T03:00:00-05:00,a@x.cn,,new,,",
    ]
    export(env, "ma", {"leads": ("leads.csv", leads_csv(*lines))})
    load_export("ma", D)
    got = {r["lead_id"]: (r["created_at"], r["updated_at"]) for r in raw(env, "leads")}
    assert got == {
        "T1": (dt.datetime(2024, 3, 1, 0, 0), dt.datetime(2024, 3, 1, 8, 0)),
        "T2": (dt.datetime(2024, 3, 1, 0, 0), dt.datetime(2024, 3, 1, 0, 0)),
        "T3": (dt.datetime(2024, 2, 29, 16, 0), dt.datetime(2024, 3, 1, 0, 0)),
        "T4": (dt.datetime(2024, 3, 1, 0, 0), dt.datetime(2024, 3, 1, 8, 0)),
    }


def test_business_time_zone_is_configurable(env, monkeypatch):
    monkeypatch.setenv("L2C_BUSINESS_TZ", "Europe/Berlin")
    export(
        env,
        "ma",
        {"leads": ("leads.csv", leads_csv("T1,2024-07-01 08:00:00,2024-01-15 08:00:00,a@x.cn,,new,,"))},
    )
    load_export("ma", D)
    (row,) = raw(env, "leads")
    assert row["created_at"] == dt.datetime(2024, 7, 1, 6, 0)  # CEST
    assert row["updated_at"] == dt.datetime(2024, 1, 15, 7, 0)  # CET


# -- encodings and formats ----------------------------------------------------------------------------

CN_TEXT = "线索ID,创建时间,更新时间,公司名称\nL1,2024-03-01 08:00,2024-03-01 08:00,深圳市腾飞科技有限公司\nL2,2024-03-01 09:00,2024-03-01 09:00,北京\u3000测试公司\u3000\n"


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (CN_TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + CN_TEXT.encode("utf-8"), "utf-8-sig"),
        (CN_TEXT.encode("gbk"), "gb18030"),
        (CN_TEXT.replace("\n", "\r\n").encode("gbk"), "gb18030"),
    ],
    ids=["utf8", "utf8-bom", "gbk", "gbk-crlf"],
)
def test_encodings_are_detected(env, encoded, encoding):
    export(env, "ma", {"leads": ("leads.csv", encoded)})
    load_export("ma", D)
    got = [(r["lead_id"], r["company_name"], r["_source_line"]) for r in raw(env, "leads")]
    assert got == [("L1", "深圳市腾飞科技有限公司", 2), ("L2", "北京\u3000测试公司", 3)]
    assert audit(env)["leads"]["encoding"] == encoding


def test_gbk_file_whose_first_mib_is_ascii_is_still_detected(env):
    filler = "".join(f"L{i},2024-03-01 08:00,2024-03-01 08:00,ascii company\n" for i in range(40000))
    text = (
        "lead_id,created_at,updated_at,company_name\n"
        + filler
        + "LX,2024-03-01 08:00,2024-03-01 08:00,中文公司\n"
    )
    assert len(filler) > (1 << 20)
    export(env, "ma", {"leads": ("leads.csv", text.encode("gbk"))})
    load_export("ma", D)
    assert audit(env)["leads"]["encoding"] == "gb18030"
    assert [r["company_name"] for r in raw(env, "leads") if r["lead_id"] == "LX"] == ["中文公司"]


def test_undecodable_file_is_an_error_and_nothing_is_written(env):
    export(env, "ma", {"leads": ("leads.csv", b"lead_id,created_at,updated_at\nL1,\x80\x80\x80,\xff\xfe\n")})
    with pytest.raises(L2CInputError) as err:
        load_export("ma", D)
    assert "leads.csv" in str(err.value) and "UTF-8" in str(err.value)
    assert not list(env.raw.rglob("*.parquet"))


def test_jsonl_and_xlsx_give_the_same_rows_as_csv(env):
    import xlsxwriter

    records = [
        {"lead_id": "L1", "created_at": "2024-03-01 08:00:00", "updated_at": "2024-03-01 08:00:00", "phone": "13800138000", "lead_score": "7"},
        {"lead_id": "L2", "created_at": "2024-03-02 08:00:00", "updated_at": "2024-03-02 08:00:00", "phone": "+86 139-0013-9000", "lead_score": "8"},
    ]  # fmt: skip
    d = export(env, "ma", {"leads": ("leads.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")})
    load_export("ma", D)
    from_jsonl = [
        (r["lead_id"], r["created_at"], r["phone"], r["lead_score"], r["_source_line"])
        for r in raw(env, "leads")
    ]
    assert audit(env)["leads"]["format"] == "jsonl"

    (d / "leads.jsonl").unlink()
    book = xlsxwriter.Workbook(str(d / "leads.xlsx"))
    sheet = book.add_worksheet()
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(0, 0, ["lead_id", "created_at", "updated_at", "phone", "lead_score"])
    for i, r in enumerate(records, start=1):
        sheet.write(i, 0, r["lead_id"])
        sheet.write_datetime(i, 1, dt.datetime.fromisoformat(r["created_at"]), when)
        sheet.write_datetime(i, 2, dt.datetime.fromisoformat(r["updated_at"]), when)
        sheet.write_number(i, 3, 13800138000) if i == 1 else sheet.write(i, 3, r["phone"])
        sheet.write_number(i, 4, int(r["lead_score"]))
    book.close()
    load_export("ma", D)
    from_xlsx = [
        (r["lead_id"], r["created_at"], r["phone"], r["lead_score"], r["_source_line"])
        for r in raw(env, "leads")
    ]
    assert audit(env)["leads"]["format"] == "xlsx"
    expected = [
        ("L1", dt.datetime(2024, 3, 1, 0, 0), "+8613800138000", 7),
        ("L2", dt.datetime(2024, 3, 2, 0, 0), "+8613900139000", 8),
    ]
    assert [r[:4] for r in from_xlsx] == [r[:4] for r in from_jsonl] == expected
    assert [r[4] for r in from_jsonl] == [1, 2]  # JSON Lines: the line
    assert [r[4] for r in from_xlsx] == [2, 3]  # XLSX: the sheet row (header is row 1)


def test_invalid_json_lines_are_quarantined_not_fatal(env):
    lines = [
        '{"lead_id": "L1", "created_at": "2024-03-01", "updated_at": "2024-03-01"}',
        "{not json",
        "",
        '["an", "array"]',
        '{"lead_id": "", "created_at": "2024-03-01", "updated_at": "2024-03-01"}',
    ]
    export(env, "ma", {"leads": ("leads.jsonl", "\n".join(lines) + "\n")})
    report = load_export("ma", D)
    assert [r["lead_id"] for r in raw(env, "leads")] == ["L1"]
    q = [(r["line"], r["reason"]) for r in quarantine(env, "leads")]
    assert q == [(2, "bad_json"), (4, "bad_json"), (5, "missing_key")]
    assert quarantine(env, "leads")[0]["raw_record"] == "{not json"
    assert report.entities["leads"].rows_in == 4  # the blank line is not a record


def test_broken_xlsx_is_an_error(env):
    export(env, "ma", {"leads": ("leads.xlsx", b"PK\x03\x04 this is not a workbook")})
    with pytest.raises(L2CInputError, match="leads.xlsx"):
        load_export("ma", D)


def test_quoted_embedded_newlines_keep_physical_line_numbers(env):
    text = (
        "lead_id,created_at,updated_at,company_name\n"  # line 1
        'L1,2024-03-01,2024-03-01,"Acme\nSecond line\nThird"\n'  # lines 2-4
        "\n"  # line 5: blank
        'L2,2024-03-01,2024-03-01,"He said ""hi"", twice"\n'  # line 6
        "L3,2024-03-01,2024-03-01\n"  # line 7: short
        'L4,2024-03-01,2024-03-01,"x\r\ny"\n'  # line 8-9
        "L5,nope,2024-03-01,z\n"  # line 10: bad timestamp
        "L6,2024-03-01,2024-03-01,ok\n"  # line 11
    )
    export(env, "ma", {"leads": ("leads.csv", text)})
    report = load_export("ma", D)
    got = {r["lead_id"]: (r["_source_line"], r["company_name"]) for r in raw(env, "leads")}
    assert got == {
        "L1": (2, "Acme\nSecond line\nThird"),
        "L2": (6, 'He said "hi", twice'),
        "L4": (8, "x\r\ny"),
        "L6": (11, "ok"),
    }
    assert [(r["line"], r["reason"]) for r in quarantine(env, "leads")] == [
        (7, "short_row"),
        (10, "bad_timestamp"),
    ]
    assert report.entities["leads"].rows_in == 6


def test_malformed_csv_falls_back_to_exact_python_reader(env):
    # mixed line endings make DuckDB's strict parser give up; rows and lines must still be right
    text = b"lead_id,created_at,updated_at\nL1,2024-03-01,2024-03-01\r\n\r\nL2,2024-03-01,2024-03-01\nL3,2024-03-01\n"
    export(env, "ma", {"leads": ("leads.csv", text)})
    load_export("ma", D)
    assert [(r["lead_id"], r["_source_line"]) for r in raw(env, "leads")] == [("L1", 2), ("L2", 4)]
    assert [(r["line"], r["reason"]) for r in quarantine(env, "leads")] == [(5, "short_row")]


def test_empty_files_give_empty_partitions_with_the_schema(env):
    export(env, "ma", {"leads": ("leads.csv", b""), "activities": ("activities.jsonl", b"")})
    report = load_export("ma", D)
    assert report.rows_in == 0
    assert raw(env, "leads") == [] and raw(env, "activities") == []
    con = duckdb.connect()
    path = env.raw / "ma" / "leads" / f"export_date={D}" / "part-0.parquet"
    assert (
        len(con.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning=false)").fetchall())
        == len(schema.get_entity("ma", "leads").columns) + 4
    )


# -- contract errors -------------------------------------------------------------------------------------


def test_unmapped_required_column_names_the_file_and_the_column(env):
    export(env, "ma", {"leads": ("leads.csv", "lead_id,updated_at,Company\nL1,2024-03-01,x\n")})
    with pytest.raises(L2CInputError) as err:
        load_export("ma", D)
    message = str(err.value)
    assert "ma/2024-03-01/leads.csv" in message and "created_at" in message
    assert "'Company'" in message  # the headers found
    assert err.value.column == "created_at" and err.value.file == "ma/2024-03-01/leads.csv"
    assert not list(env.raw.rglob("*.parquet"))


def test_incomplete_export_names_the_directory(env):
    d = export(env, "crm", {})
    (d / "payments.csv").unlink()
    with pytest.raises(L2CInputError) as err:
        load_export("crm", D)
    assert str(d) in str(err.value) and "payments" in str(err.value)
    assert not list(env.raw.rglob("*.parquet"))


def test_two_files_for_one_entity_is_an_error(env):
    d = export(env, "ma", {})
    (d / "线索.csv").write_text("lead_id,created_at,updated_at\n")
    with pytest.raises(L2CInputError, match="leads") as err:
        load_export("ma", D)
    assert str(d) in str(err.value)


def test_missing_export_directory_is_an_error(env):
    with pytest.raises(L2CInputError, match="export directory not found"):
        load_export("ma", D)


# -- idempotency and atomicity -----------------------------------------------------------------------


def test_rerun_replaces_the_date_and_leaves_other_dates_alone(env):
    other = D + dt.timedelta(days=1)
    export(
        env,
        "ma",
        {
            "leads": (
                "leads.csv",
                leads_csv("L1,2024-03-01,2024-03-01,,,new,,", "L2,2024-03-01,2024-03-01,,,new,,"),
            )
        },
    )
    export(env, "ma", {"leads": ("leads.csv", leads_csv("L9,2024-03-02,2024-03-02,,,new,,"))}, day=other)
    load_export("ma", other, run_id="other-day")
    first = load_export("ma", D, run_id="first")
    second = load_export("ma", D, run_id="second")
    assert first.rows_loaded == second.rows_loaded == 2

    con = duckdb.connect()
    glob = env.raw / "ma" / "leads" / "*" / "*.parquet"
    by_date = con.sql(
        f"SELECT _export_date, count(*), min(_run_id) FROM read_parquet('{glob}') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert by_date == [(D, 2, "second"), (other, 1, "other-day")]
    audits = con.sql(
        f"SELECT count(*) FROM read_parquet('{env.raw / '_audit' / 'ma' / '*' / '*.parquet'}')"
    ).fetchall()
    assert audits == [(6,)]  # 3 files x 2 dates, not 9
    leftovers = [p for p in env.raw.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_failed_load_leaves_previous_partitions_intact(env):
    export(env, "ma", {"leads": ("leads.csv", leads_csv("L1,2024-03-01,2024-03-01,,,new,,"))})
    load_export("ma", D, run_id="good")
    before = {p: p.read_bytes() for p in env.raw.rglob("*.parquet")}
    # the same date again, now with a broken activities file (required column missing)
    export(
        env,
        "ma",
        {
            "leads": ("leads.csv", leads_csv("L2,2024-03-01,2024-03-01,,,new,,")),
            "activities": ("activities.csv", "activity_id\nA1\n"),
        },
    )
    with pytest.raises(L2CInputError, match="activities"):
        load_export("ma", D, run_id="bad")
    after = {p: p.read_bytes() for p in env.raw.rglob("*.parquet")}
    assert after == before
    assert [r["lead_id"] for r in raw(env, "leads")] == ["L1"]
    assert [p for p in env.raw.rglob("*") if p.name.startswith(".")] == []


def test_progress_callback_and_summary(env):
    export(
        env,
        "ma",
        {"leads": ("leads.csv", leads_csv("L1,2024-03-01,2024-03-01,,,new,,", "L2,bad,2024-03-01,,,new,,"))},
    )
    messages: list[str] = []
    report = load_export("ma", D, progress=messages.append)
    assert any("ma.leads" in m and "1 quarantined" in m for m in messages)
    text = report.summary()
    assert "2 rows in, 1 loaded, 1 quarantined" in text and "bad_timestamp" in text
    assert report.run_id and report.quarantine_reasons == {"bad_timestamp": 1}


def test_record_scan_agrees_with_pythons_csv_across_chunk_boundaries(tmp_path, monkeypatch):
    import csv
    import hashlib

    from l2c.ingest import csvscan

    text = 'a,b\n1,"x\ny"\n\n2,"he said ""hi""\r\n"\r\n3,z\n"4\n\n",w\n5,"""",\n6,end'
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    expected, prev = [], 0
    reader = csv.reader(text.splitlines(keepends=True))
    for fields in reader:
        if fields:
            expected.append(prev + 1)
        prev = reader.line_num
    for chunk in (3, 5, 7, 64, 1 << 24):  # quotes and newlines straddling chunk ends
        monkeypatch.setattr(csvscan, "_CHUNK", chunk)
        h = hashlib.sha256()
        rec = csvscan.scan_records(path, hasher=h)
        assert rec.lines[~rec.blank].tolist() == expected
        assert h.hexdigest() == hashlib.sha256(text.encode()).hexdigest()


def test_gbk_without_iconv_uses_pythons_codec(env, monkeypatch):
    from l2c.ingest import encoding

    monkeypatch.setattr(encoding.shutil, "which", lambda _name: None)
    export(env, "ma", {"leads": ("leads.csv", CN_TEXT.encode("gbk"))})
    load_export("ma", D)
    assert [r["company_name"] for r in raw(env, "leads")] == ["深圳市腾飞科技有限公司", "北京\u3000测试公司"]
    assert audit(env)["leads"]["encoding"] == "gb18030"
