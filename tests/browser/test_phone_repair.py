"""A repair team member on a phone (and at a desk): finds the fault's repair task in the inbox,
claims it (which opens it), photographs the repaired site and completes the repair (Flow 4,
enterprise fault dispatch, driven to the repair step through the engine)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from pages import screenshot, sign_in
from sqlalchemy import select

from engine.definitions import deployments
from engine.models import HumanTask, ProcessInstance, StoredFile
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, jobs, tasks

PROCESSES = Path(__file__).parents[2] / "processes"
REPORT = {
    "customer_name": "杭州市公安局", "customer_level": "group", "business_category": "bandwidth",
    "circuit_id": "MPLS-VPN-0571-0042", "contact_phone": "13800571234",
    "description": "专线中断，业务不通", "channel": "on_behalf",
}
MANAGER = Principal("qian_cm", frozenset({"customer_manager"}))
MONITOR = Principal("sun_mc", frozenset({"monitoring_center"}))
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1366, "height": 768}}


def png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG picture (a red and grey gradient), as a phone camera would send a photo."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"".join(bytes((200, x * 4 % 256, y * 5 % 256)) for x in range(width))
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def fault_at_first_repair(platform, business_key: str) -> int:
    """Report a fault, accept and dispatch it, and have the first-level team accept it."""
    deployments.deploy(platform, SYSTEM, {name: (PROCESSES / name).read_bytes()
                                          for name in ("fault_dispatch.bpmn", "fault_time_limits.dmn")})
    instance_id = instances.start(platform, MANAGER, "fault_dispatch", business_key, dict(REPORT))
    record = {k: v for k, v in REPORT.items() if k != "channel"}
    steps = [("受理故障", MONITOR, {**record, "acceptance_note": "已受理"}),
             ("派单", MONITOR, {"first_level_team": "西湖区传输一班"}),
             ("一级接单", Principal("li_mt", frozenset({"maintenance"})), {"first_level_engineer": "李工"})]
    for title, actor, data in steps:
        jobs.drain(platform, instance_id)
        task = open_task(platform, instance_id)
        assert task.title == title
        tasks.complete(platform, actor, task.id, data)
    jobs.drain(platform, instance_id)
    assert open_task(platform, instance_id).title == "一级处理"
    return instance_id


def open_task(platform, instance_id: int) -> HumanTask:
    with platform.Session() as session:
        return session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                       HumanTask.state == "open")).one()


def console_errors(page) -> list[str]:
    """Errors the page logs or throws, as they come (the site has no favicon: not a page's fault)."""
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{message.text} {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_repair_team_member_claims_photographs_and_completes_the_repair(device, new_page, users, platform):
    instance_id = fault_at_first_repair(platform, f"FAULT-{device}")
    repair = open_task(platform, instance_id)
    users("repair", ["maintenance"], display_name="维修员小王")
    page = new_page()
    problems = console_errors(page)
    page.set_viewport_size(VIEWPORTS[device])
    sign_in(page, "repair")

    page.goto("/inbox")
    card = page.locator(f"tr[data-task-id='{repair.id}']")
    assert "一级处理" in card.inner_text() and f"FAULT-{device}" in card.inner_text()
    no_sideways_scroll(page)
    if device == "phone":  # a card: each value with its label, the claim button big enough to tap
        assert page.locator("table.tasks thead").bounding_box()["height"] <= 1
        box = card.locator(f"[data-testid=claim-{repair.id}]").bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
        assert card.bounding_box()["width"] <= 390
        screenshot(page, "inbox-phone")
    card.locator(f"[data-testid=claim-{repair.id}]").click()

    page.wait_for_url(f"**/tasks/{repair.id}")
    assert page.locator("[data-testid=assignee]").inner_text() == "repair"
    photo = page.locator("#task-first_level_photos")
    assert photo.get_attribute("capture") == "environment"
    assert "image/png" in photo.get_attribute("accept") and "pdf" not in photo.get_attribute("accept")
    page.select_option("#task-first_level_result", "repaired")
    page.fill("#task-first_level_note", "更换光模块，业务恢复")
    photo.set_input_files(files=[{"name": "site-after.png", "mimeType": "image/png", "buffer": png()}])
    preview = page.locator("[data-preview-for=task-first_level_photos] li")
    assert "site-after.png" in preview.inner_text()
    page.wait_for_function("document.querySelector('[data-preview-for=task-first_level_photos] img')"
                           ".naturalWidth === 64")
    no_sideways_scroll(page)
    if device == "phone":
        inputs = page.locator(".task-form .tf-field select, .task-form .tf-field textarea")
        for i in range(inputs.count()):  # one column: every field as wide as the form
            assert inputs.nth(i).bounding_box()["width"] >= 300
        screenshot(page, "task-form-phone")
    page.click("[data-testid=complete]")

    page.wait_for_url("**/inbox")
    assert "任务“一级处理”已提交" in page.locator(".flash").inner_text()
    no_sideways_scroll(page)
    with platform.Session() as session:
        done = session.get(HumanTask, repair.id)
        stored = session.scalars(select(StoredFile).where(StoredFile.instance_id == instance_id)).all()
        variables = session.get(ProcessInstance, instance_id).variables
    assert (done.state, done.completed_by) == ("completed", "repair")
    assert [(f.filename, f.content_type, f.data) for f in stored] == [("site-after.png", "image/png", png())]
    assert variables["first_level_photos"] == [stored[0].id]
    assert variables["first_level_result"] == "repaired"
    assert problems == []
