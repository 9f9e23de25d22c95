"""Rechecks on a phone: a township worker opens the demo round's rechecks (the positive 10-in-1 pool's members),
records one member's door-to-door single tube (a wrong barcode first: the error stays in the row), then opens the
pool's tube page with its members and result history."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import live_query, login, shot

pytestmark = pytest.mark.browser

# The demo's round in progress: an open recheck of its positive pool (the earliest due).
OPEN_RECHECK = """
import json
from shouwang.core.masking import mask_name
from shouwang.testing.models import RecheckTask
task = (RecheckTask.objects.filter(state="open", round__state="sampling").select_related("person", "source_tube")
        .order_by("due_at", "id").first())
print(json.dumps({"round_id": task.round_id, "task_id": task.id, "pool": task.source_tube.barcode,
                  "masked": mask_name(task.person.name),
                  "open": RecheckTask.objects.filter(round_id=task.round_id, state="open").count(),
                  "sampled": RecheckTask.objects.filter(round_id=task.round_id, state="sampled").count()}))
"""


def test_a_township_worker_records_a_recheck_on_a_phone_and_opens_the_pool(live_site, live_env, phone):
    due = live_query(live_env, OPEN_RECHECK)
    barcode = f"FHT{uuid.uuid4().hex[:6].upper()}"
    login(phone, live_site, "township")
    phone.goto(f"{live_site}/testing/rounds/{due['round_id']}/")
    phone.click("[data-testid=rechecks-link]")
    phone.wait_for_url(re.compile(rf"/testing/rounds/{due['round_id']}/rechecks/$"))
    assert phone.locator("[data-testid=recheck-open]").inner_text() == str(due["open"])
    assert phone.locator("[data-testid=recheck-sampled]").inner_text() == str(due["sampled"])
    row = phone.locator(f"#recheck-{due['task_id']}")
    assert row.locator("[data-testid=recheck-name]").inner_text() == due["masked"]
    assert row.locator("[data-testid=recheck-pool]").inner_text() == due["pool"]
    shot(phone, "testing-rechecks-phone")

    row.locator("[data-testid=recheck-barcode]").fill(due["pool"])  # the pool's barcode scanned by mistake
    row.locator("[data-testid=recheck-submit]").click()
    error = row.locator("[data-testid=recheck-error]")
    expect(error).to_contain_text("该管码已在其他轮次或用途中使用")
    assert "This barcode was used elsewhere" in error.inner_text()
    expect(row.locator("[data-testid=recheck-barcode]")).to_be_focused()
    shot(phone, "testing-rechecks-phone-error")

    row.locator("[data-testid=recheck-barcode]").fill(barcode)
    row.locator("[data-testid=recheck-submit]").click()
    expect(row.locator("[data-testid=recheck-done]")).to_have_text(f"已采样，管码 {barcode}")
    assert row.locator("[data-testid=recheck-state]").inner_text() == "已采样"
    assert row.locator("[data-testid=recheck-form]").count() == 0
    shot(phone, "testing-rechecks-phone-sampled")

    phone.reload()  # the list agrees after a reload
    assert phone.locator("[data-testid=recheck-sampled]").inner_text() == str(due["sampled"] + 1)
    row = phone.locator(f"#recheck-{due['task_id']}")
    row.locator("[data-testid=recheck-pool]").click()
    phone.wait_for_url(f"{live_site}/testing/tubes/{due['pool']}/")
    assert phone.locator("[data-testid=tube-barcode]").inner_text() == due["pool"]
    assert phone.locator("[data-testid=tube-result]").inner_text() == "阳性"
    assert phone.locator("[data-testid=tube-member]").count() == 10
    assert phone.locator("[data-testid=member-recheck]", has_text=barcode).count() == 1
    assert phone.locator("[data-testid=result-row]").count() == 1
    assert phone.locator("[data-testid=correct-form]").count() == 0  # a township worker does not review results
    shot(phone, "testing-tube-phone")
    phone.locator("[data-testid=member-recheck] a", has_text=barcode).click()
    phone.wait_for_url(f"{live_site}/testing/tubes/{barcode}/")
    assert phone.locator("[data-testid=tube-purpose]").inner_text() == "单管复核"
    assert phone.locator("[data-testid=tube-source]").inner_text() == due["pool"]
    shot(phone, "testing-tube-recheck-phone")
    phone.click("[data-testid=lang-en]")
    phone.wait_for_selector("text=Single-tube recheck")
    shot(phone, "testing-tube-recheck-phone-en")
