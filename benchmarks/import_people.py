"""Benchmark: importing a 常住人口信息汇总表 of N people (dry run + apply) through the service functions.

    .venv/bin/python benchmarks/import_people.py [--rows 100000] [--sheets 10] [--seed 1] [--workdir DIR] [--keep]

Works in a throwaway directory (a temporary one unless --workdir): a fresh SQLite database, migrated, and the
var dir where the import keeps its upload. It builds a minimal county (浮山县 › 天坛镇 › 城关社区 › 第一网格) and a
grid worker, writes the workbook with openpyxl's write-only mode (--sheets compounds, each with buildings, units
and rooms, valid IDs and mobiles, some categories), then times import_dry_run + import_apply as that worker (the
same code the page and the API call, without HTTP).

It also times the engine floor in the same run, on the same file and rows:
  * parse:  reading every row of the workbook with openpyxl read_only, nothing else;
  * insert: bulk_create of the same N Person rows (already validated, one area, no history), rolled back.
The import reads the file twice (the dry run, and the apply re-checks it) and writes history rows, households
and areas as well, so it cannot come near 1x; the ratio says what the checks and the bookkeeping cost on top.

The promise: 100,000 rows imported (dry run + apply) in under 60 s. Smaller --rows runs get the same 60 s, larger
ones proportionally more. The last line is
`import_people rows_per_s=<int> total_s=<float> ratio_to_floor=<float>` (floor = parse + insert).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMISE_ROWS = 100_000
PROMISE_S = 60.0
COLUMNS = ["楼栋", "单元", "房号", "姓名", "身份证号", "联系电话", "人员类别", "备注"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彬斌宇浩凯健俊帆帅旭宁龙林欣怡佳雨晨子涵梓轩浩然"
MOBILE_PREFIXES = ["135", "136", "138", "139", "150", "151", "159", "186", "187", "188", "199"]
CATEGORIES = ["独居老人", "流动人口", "学生", "快递/物流", "教师、常住人口", "孕产妇", "婴幼儿", "外来务工、流动人口"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=PROMISE_ROWS, help="people in the workbook (default 100000)")
    parser.add_argument("--sheets", type=int, default=10, help="compounds, one sheet each (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="where the database and the upload go "
                        "(default: a temporary directory, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if args.rows < 1 or args.sheets < 1:
        parser.error("--rows and --sheets must be at least 1")
    return args


def write_workbook(path: Path, *, rows: int, sheets: int, seed: int) -> None:
    """A 常住人口信息汇总表 of `rows` valid people spread over `sheets` compounds, written streaming."""
    from openpyxl import Workbook

    from shouwang.people.identifiers import make_resident_id

    rng = random.Random(seed)
    first_birth = dt.date(1935, 1, 1)
    days = 30_000  # birth dates from 1935 to 2017: (day, sequence) is unique for 30 million rows
    wb = Workbook(write_only=True)
    per_sheet = -(-rows // sheets)
    i = 0
    for s in range(sheets):
        ws = wb.create_sheet(f"和谐家园{s + 1:02d}期")
        ws.append(["常住人口信息汇总表"])
        ws.append(COLUMNS)
        for k in range(min(per_sheet, rows - i)):
            building, rest = divmod(k, 240)  # 240 people a building: 4 units x 20 rooms x 3 people
            unit, rest = divmod(rest, 60)
            room = 101 + (rest // 3) // 2 * 100 + (rest // 3) % 2
            birth = first_birth + dt.timedelta(days=i % days)
            number = make_resident_id("141027", birth, i // days)
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
            mobile = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10 ** 8):08d}" if rng.random() < 0.8 else ""
            category = rng.choice(CATEGORIES) if rng.random() < 0.15 else ""
            notes = "租户" if rng.random() < 0.05 else ""
            ws.append([f"{building + 1}", f"{unit + 1}", str(room), name, number, mobile, category, notes])
            i += 1
    wb.save(path)


def main() -> None:
    args = parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="import_people-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "import_people.sqlite3"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["SHOUWANG_VAR_DIR"] = str(workdir / "var")
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    os.environ.setdefault("SHOUWANG_TESTING", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection, transaction
    from openpyxl import load_workbook

    from shouwang.accounts.enums import Role
    from shouwang.accounts.services import user_create
    from shouwang.areas.models import Area, Household
    from shouwang.areas.services import area_create, area_ensure_gb2260_chain
    from shouwang.core.models import AuditEvent
    from shouwang.people.enums import IdType
    from shouwang.people.identifiers import parse_resident_id
    from shouwang.people.imports import import_apply, import_dry_run, imports_dir
    from shouwang.people.models import Person

    try:
        print(f"working directory: {workdir}")
        print(f"database: {connection.vendor} {db_path}")
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        county = area_ensure_gb2260_chain("141027")
        township = area_create(parent=county, level="township", code="141027100", name="天坛镇",
                               is_synthetic_code=True)
        village = area_create(parent=township, level="village", code="141027100001", name="城关社区",
                              is_synthetic_code=True)
        grid = area_create(parent=village, level="grid", code="141027100001001", name="第一网格",
                           grid_kind="community")
        worker = user_create(username="grid_a", password="Shouwang-2022", role=Role.GRID_WORKER,
                             jurisdiction=grid, display_name="第一网格网格员")
        print(f"migrated and set up in {time.perf_counter() - started:.1f} s")

        xlsx = workdir / f"常住人口信息汇总表-{args.rows}.xlsx"
        started = time.perf_counter()
        write_workbook(xlsx, rows=args.rows, sheets=args.sheets, seed=args.seed)
        print(f"workbook: {args.rows} rows on {args.sheets} sheets, {xlsx.stat().st_size / 1e6:.1f} MB, "
              f"written in {time.perf_counter() - started:.1f} s")

        # ---- engine floor ------------------------------------------------------------------------------
        wb = load_workbook(xlsx, read_only=True, data_only=True)  # warm-up, untimed: openpyxl's lazy imports
        list(wb.worksheets[0].iter_rows(max_row=10, values_only=True))
        wb.close()
        started = time.perf_counter()
        parsed_rows: list[tuple] = []
        wb = load_workbook(xlsx, read_only=True, data_only=True)
        for ws in wb.worksheets:
            parsed_rows.extend(row for row in ws.iter_rows(min_row=3, values_only=True) if row[3])
        wb.close()
        parse_s = time.perf_counter() - started
        assert len(parsed_rows) == args.rows, (len(parsed_rows), args.rows)

        people = []
        for _, _, _, name, number, mobile, _, notes in parsed_rows:
            rid = parse_resident_id(number)
            people.append(Person(name=name, id_type=IdType.RESIDENT_ID, id_number=number, sex=rid.sex,
                                 birth_date=rid.birth_date, mobile=mobile or "", area_id=grid.id,
                                 notes=notes or ""))
        del parsed_rows
        started = time.perf_counter()
        with transaction.atomic():
            Person.objects.bulk_create(people, batch_size=2000)
            insert_s = time.perf_counter() - started
            transaction.set_rollback(True)
        del people
        assert Person.objects.count() == 0
        floor_s = parse_s + insert_s
        print(f"\nengine floor: parse (openpyxl read_only) {parse_s:.2f} s, insert (bulk_create, no history) "
              f"{insert_s:.2f} s, together {floor_s:.2f} s")

        # ---- the import, as the grid worker ------------------------------------------------------------
        started = time.perf_counter()
        with xlsx.open("rb") as upload:
            report = import_dry_run(actor=worker, kind="residents", area_id=grid.id, upload=upload,
                                    file_name=xlsx.name)
        dry_s = time.perf_counter() - started
        if report["error_count"] or report["valid_rows"] != args.rows:
            raise SystemExit(f"dry run: {report['valid_rows']} valid of {report['total_rows']}, "
                             f"{report['error_count']} errors, first: {report['errors'][:3]}")
        started = time.perf_counter()
        applied = import_apply(import_id=report["import_id"], actor=worker)
        apply_s = time.perf_counter() - started
        total_s = dry_s + apply_s
        result = applied["result"]

        again = import_apply(import_id=report["import_id"], actor=worker)  # a retry imports nothing more
        assert again["result"] == result
        assert result["people"] == args.rows == Person.objects.count(), (result, Person.objects.count())
        assert Person.history.count() == args.rows
        assert AuditEvent.objects.filter(action="import", object_id=report["import_id"]).count() == 1
        print(f"\nimport as {worker.username}: dry run {dry_s:.2f} s, apply {apply_s:.2f} s, total {total_s:.2f} s")
        print(f"  created: {result['people']} people, {result['households']} households, {result['compounds']} "
              f"compounds, {result['buildings']} buildings, {result['units']} units, {result['tags']} tags")
        print(f"  database now: {Area.objects.count()} areas, {Household.objects.count()} households, "
              f"{Person.objects.count()} people, {Person.history.count()} person history rows")
        print(f"  upload kept in {imports_dir()}")
        print(f"  peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

        budget = PROMISE_S * max(args.rows, PROMISE_ROWS) / PROMISE_ROWS
        rows_per_s = args.rows / total_s
        print(f"\n{total_s / parse_s:.1f}x parsing the file alone, {total_s / insert_s:.1f}x inserting the rows alone, "
              f"{total_s / floor_s:.1f}x both; promise: {PROMISE_ROWS} rows in < {PROMISE_S:.0f} s "
              f"(this run: {args.rows} rows in < {budget:.0f} s) -> {'kept' if total_s < budget else 'BROKEN'}")
        print(f"import_people rows_per_s={rows_per_s:.0f} total_s={total_s:.2f} ratio_to_floor={total_s / floor_s:.2f}")
        if total_s >= budget:
            raise SystemExit(f"FAILED: {args.rows} rows took {total_s:.1f} s, over the {budget:.0f} s promised")
    finally:
        connection.close()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
