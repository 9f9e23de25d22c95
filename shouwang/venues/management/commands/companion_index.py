"""`manage.py companion_index`: build or bring up to date the companion engine's index of the scan log.

The tracers' companion query refreshes the index itself (incrementally, by scan id), and the task worker refreshes
it after every batch upload and file import. After a restore, or for a log that was loaded outside the
application, this command does the first (slow) build ahead of the first query: about 20 s per 10 million scans.
`make demo` runs it after loading the demo county.
"""

import shutil
import time

from django.core.management.base import BaseCommand

from shouwang.venues.companions import CompanionEngine, index_dir


class Command(BaseCommand):
    help = "建立或更新时空伴随索引 Build or update the companion index of the scan log."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="remove the index and build it from scratch")

    def handle(self, *args, **options):
        directory = index_dir()
        if options["rebuild"] and directory.exists():
            shutil.rmtree(directory)
        started = time.perf_counter()
        engine = CompanionEngine(directory)
        added = engine.refresh()
        status = engine.status()
        self.stdout.write(f"时空伴随索引：新增 {added} 条，共 {status['rows']} 条扫码、{status['days']} 天，"
                          f"用时 {time.perf_counter() - started:.1f} 秒 / companion index: {added} scans added, "
                          f"{status['rows']} scans over {status['days']} days in {directory}")
