"""The exported person list opens in LibreOffice with its Chinese intact (converted to CSV headless)."""

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from shouwang.core.models import AuditEvent
from shouwang.people.identifiers import make_resident_id

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# Filter options: comma-separated, double-quoted text, character set 76 = UTF-8.
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76"


def to_csv(xlsx: bytes, tmp_path: Path) -> list[list[str]]:
    source = tmp_path / "人员名单.xlsx"
    source.write_bytes(xlsx)
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", CSV_FILTER,
         "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=180)
    text = (tmp_path / "人员名单.csv").read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (make test installs it)")
def test_exported_list_opens_in_libreoffice_with_chinese_intact(county, client_for, tmp_path):
    county.person(name="欧阳娜娜", area=county.grid_a, birth=dt.date(1990, 2, 28), mobile="13912345678", seq=12,
                  current_address="天坛镇幸福小区1号楼2单元301")
    county.person(name="响水河人", area=county.grid_b, seq=13)
    worker = county.user("grid_worker", county.grid_a)

    response = client_for(worker).get("/people/export.xlsx")
    assert response.status_code == 200
    rows = to_csv(b"".join(response.streaming_content), tmp_path)

    number = make_resident_id("141027", dt.date(1990, 2, 28), 12)
    assert rows[0][0].startswith("人员名单　筛选：")
    assert rows[1] == ["姓名", "性别", "出生日期", "证件类型", "证件号码", "手机号", "所属网格", "户", "现住址",
                       "工作单位", "人群标签"]
    assert rows[2:] == [["欧阳娜娜", "女" if int(number[16]) % 2 == 0 else "男", "1990-02-28", "居民身份证",
                         number[:4] + "**********" + number[-4:], "139****5678", county.grid_a.name, "",
                         "天坛镇幸福小区1号楼2单元301", "", ""]]
    event = AuditEvent.objects.get(action="export", actor=worker)
    assert event.row_count == 1
