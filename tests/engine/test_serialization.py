"""The workflow state's JSON (engine/definitions/serialization.py): written and read with orjson,
it must read what the standard library wrote before, and give back what it was given."""

import gzip
import json
import math
import shutil
import sqlite3
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from helpers import deploy
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.definitions.serialization import (
    SERIALIZER,
    SERIALIZER_VERSION,
    _Encoder,
    _loads,
    workflow_from_json,
    workflow_to_json,
)
from engine.runtime.workflow import run_engine_steps

LEGACY_DB = Path(__file__).parent.parent / "data" / "legacy" / "towerflow-d7811a0.db.gz"


def _old_text(workflow) -> str:
    """The state as workflow_to_json wrote it before orjson: the standard library's json.dumps."""
    return json.dumps(SERIALIZER.to_dict(workflow), cls=_Encoder)


def _old_read(text: str, specs) -> BpmnWorkflow:
    """The state read as before orjson: the standard library's json.loads."""
    data = json.loads(text)
    data.pop("spec", None)
    data.pop("subprocess_specs", None)
    return SERIALIZER.from_dict(data, specs=specs)


def _waiting_approval(platform, **data) -> tuple[BpmnWorkflow, tuple]:
    deploy(platform, "approval.bpmn")
    with platform.Session() as session:
        specs = platform.specs(session, 1)
    workflow = BpmnWorkflow(*specs)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.set_data(**data)
    run_engine_steps(workflow)
    return workflow, specs


def _user_data(workflow) -> dict:
    task = next(t for t in workflow.tasks.values() if t.state == TaskState.READY)
    return task.data


TYPED = {"amount": 12, "price": Decimal("36000.50"), "due": date(2027, 3, 1), "at": datetime(2026, 12, 6, 8, 30),
         "opens": time(9, 15), "site": "玄武湖公园站", "tags": ["新建", "共享"], "nested": {"a": [1, {"b": None}]},
         "ok": True, "ratio": 0.1}


def test_state_stored_by_older_code_reads_the_same(tmp_path):
    """Every instance of the database written at d7811a0 (the standard library's json.dumps, with
    its \\u escapes) reads to the same workflow as the standard library reads it."""
    copy = tmp_path / "legacy.db"
    with gzip.open(LEGACY_DB) as source, open(copy, "wb") as target:
        shutil.copyfileobj(source, target)
    with sqlite3.connect(copy) as conn:
        rows = conn.execute("SELECT i.workflow_json, d.spec_json FROM process_instances i "
                            "JOIN process_definitions d ON d.id = i.definition_id "
                            "WHERE i.workflow_json NOT IN ('', '{}')").fetchall()
    assert len(rows) == 7
    for text, spec_json in rows:
        assert text.isascii()  # json.dumps' \\u escapes
        assert _loads(text) == json.loads(text)
        new = workflow_from_json(text, spec_json)
        old = _old_read(text, (new.spec, new.subprocess_specs))
        assert SERIALIZER.to_dict(new) == SERIALIZER.to_dict(old)
        again = workflow_from_json(workflow_to_json(new), (new.spec, new.subprocess_specs))
        assert SERIALIZER.to_dict(again) == SERIALIZER.to_dict(new)


def test_round_trip_keeps_datetimes_decimals_and_text(platform):
    workflow, specs = _waiting_approval(platform, **TYPED)
    text = workflow_to_json(workflow)
    assert "玄武湖公园站" in text  # written as itself, not as \u escapes
    restored = workflow_from_json(text, specs)
    data = _user_data(restored)
    assert data == _user_data(_old_read(_old_text(workflow), specs))  # what the standard library gave back
    assert data["price"] == Decimal("36000.50") and data["at"] == datetime(2026, 12, 6, 8, 30)
    assert (data["due"], data["opens"]) == ("2027-03-01", "09:15:00")  # no type of SpiffWorkflow's: text, as before
    assert {k: v for k, v in data.items() if k not in ("due", "opens")} == \
        {k: v for k, v in TYPED.items() if k not in ("due", "opens")}
    assert SERIALIZER.to_dict(restored) == SERIALIZER.to_dict(_old_read(_old_text(workflow), specs))
    assert json.loads(text) == json.loads(_old_text(workflow))  # the same content as the standard library's
    assert SERIALIZER_VERSION == SERIALIZER.VERSION


def test_what_orjson_cannot_write_is_written_as_before(platform):
    """Integers beyond 64 bits, keys that are not text, lone surrogates: the standard library
    writes them, and the reader does not turn a long integer into a float."""
    for value in ({"big": 2**70, "negative": -(2**63) - 1}, {"keys": {1: "a", 2: "b"}}, {"odd": "\ud800x"}):
        workflow, specs = _waiting_approval(platform, amount=1, **value)
        text = workflow_to_json(workflow)
        assert text == _old_text(workflow)
        restored = _user_data(workflow_from_json(text, specs))
        expected = json.loads(json.dumps(value))
        assert {k: restored[k] for k in value} == expected


def test_text_only_the_standard_library_reads_still_loads(platform):
    workflow, specs = _waiting_approval(platform, amount=1)
    old = _old_text(workflow)
    for extra in ("NaN", "Infinity", "123456789012345678901234567890", '"\\ud800"'):
        text = old.replace('"amount": 1', f'"amount": 1, "extra": {extra}')
        assert text != old
        got = _user_data(workflow_from_json(text, specs))["extra"]
        want = json.loads(extra)
        assert (math.isnan(got) and math.isnan(want)) if extra == "NaN" else got == want
