"""Header mapping: vendor headers -> canonical columns (plugins/l2c/ingest/mappings/*.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2c import schema
from l2c.config import settings
from l2c.errors import L2CInputError
from l2c.ingest.mapping import load_mapping, normalize_header, parse_mapping


def test_normalize_header_ignores_case_whitespace_bom_and_full_width():
    assert normalize_header("\ufeff  Lead ID ") == "lead id"
    assert normalize_header("Lead\u3000 ID") == "lead id"
    assert normalize_header("线索ＩＤ") == normalize_header("线索id")


@pytest.mark.parametrize("source", schema.SOURCES)
def test_repository_mappings_are_valid_and_cover_every_entity(source):
    mapping = load_mapping(source, settings())
    assert set(mapping.entities) == {e.name for e in schema.entities_of(source)}
    for name, em in mapping.entities.items():
        # canonical names always map to themselves, so canonical exports need no mapping
        for column in schema.get_entity(source, name).columns:
            assert em.aliases[normalize_header(column)] == column
        assert em.files[0] == name


def test_resolve_vendor_headers_and_report_unmapped():
    em = load_mapping("ma", settings()).entity("leads")
    res = em.resolve(["\ufeff线索ID", " 创建时间 ", "UPDATED_AT", "Email", "备注", ""])
    assert res.columns == {"lead_id": 0, "created_at": 1, "updated_at": 2, "email": 3}
    assert res.unmapped == ("备注", "<empty header in column 6>")
    assert res.headers[0] == "线索ID"  # BOM gone, text kept
    assert list(res.columns) == [c for c in schema.get_entity("ma", "leads").columns if c in res.columns]


def test_two_headers_for_one_column_prefer_the_canonical_then_yaml_order():
    em = load_mapping("ma", settings()).entity("leads")
    res = em.resolve(["线索ID", "电子邮箱", "邮箱", "Email"])
    assert res.columns["email"] == 3  # the canonical name (any case) wins
    assert set(res.unmapped) == {"电子邮箱", "邮箱"}
    res = em.resolve(["线索ID", "电子邮箱", "邮箱"])
    assert res.columns["email"] == 2  # ma.yml lists 邮箱 before 电子邮箱
    assert res.unmapped == ("电子邮箱",)


def test_require_names_file_column_and_headers_found():
    em = load_mapping("crm", settings()).entity("payments")
    res = em.resolve(["Payment ID", "Order ID", "Amount"])
    with pytest.raises(L2CInputError) as err:
        em.require(res, file="crm/2024-03-01/payments.csv")
    text = str(err.value)
    assert "crm/2024-03-01/payments.csv" in text and "paid_at" in text and "updated_at" in text
    assert "'Payment ID'" in text and "mappings/crm.yml" in text
    assert err.value.column == "paid_at" and err.value.line == 1


def test_mapping_document_is_validated():
    with pytest.raises(ValueError, match="not a column"):
        parse_mapping("ma", {"entities": {"leads": {"columns": {"no_such_column": ["X"]}}}})
    with pytest.raises(ValueError, match="maps to both"):
        parse_mapping(
            "ma", {"entities": {"leads": {"columns": {"email": ["Contact"], "phone": ["contact"]}}}}
        )
    with pytest.raises(ValueError, match="unknown entities"):
        parse_mapping("ma", {"entities": {"orders": {}}})
    with pytest.raises(ValueError, match="expected 'crm'"):
        parse_mapping("crm", {"source": "ma"})
    with pytest.raises(ValueError, match="listed for"):
        parse_mapping("ma", {"entities": {"leads": {"files": ["x"]}, "activities": {"files": ["X"]}}})


def test_mappings_dir_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "ma.yml").write_text(
        "source: ma\nentities:\n  leads:\n    files: [Export_Leads]\n    columns:\n      lead_id: [Kennung]\n"
    )
    monkeypatch.setenv("L2C_MAPPINGS_DIR", str(tmp_path))
    mapping = load_mapping("ma", settings())
    assert mapping.entity("leads").files == ("leads", "export_leads")
    assert mapping.entity("leads").resolve(["kennung"]).columns == {"lead_id": 0}
    # a source without a mapping file gets the canonical-only mapping
    crm = load_mapping("crm", settings())
    assert crm.path is None and crm.entity("users").resolve(["user_id", "User ID"]).columns == {"user_id": 0}
