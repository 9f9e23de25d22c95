"""`manage.py demo_data` (`shouwang demo-data`): build the synthetic 浮山县 demo county."""

from django.core.management.base import BaseCommand, CommandError

from shouwang.areas.models import Area
from shouwang.demo.generator import DEFAULT_PEOPLE, MIN_PEOPLE, generate_county


class Command(BaseCommand):
    help = "生成演示县（浮山县形状的合成数据）Build the synthetic demo county shaped like Fushan (浮山县)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed and size give the same data")
        parser.add_argument("--people", type=int, default=DEFAULT_PEOPLE, help=f"population (default {DEFAULT_PEOPLE})")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any area exists already")
        parser.add_argument("--quiet", action="store_true", help="print nothing")

    def handle(self, *args, seed: int, people: int, if_empty: bool, quiet: bool, **options):
        if Area.objects.exists():
            if if_empty:
                return
            raise CommandError("数据库里已有区划数据：演示数据只能生成到空库里（加 --if-empty 则跳过）。"
                               " The area tree is not empty; the demo county needs an empty database.")
        if people < MIN_PEOPLE:
            raise CommandError(f"--people 至少 {MIN_PEOPLE} / must be at least {MIN_PEOPLE}")
        log = None if quiet or options.get("verbosity", 1) < 2 else (lambda m: self.stdout.write(m))
        summary = generate_county(seed=seed, people=people, log=log)
        if not quiet:
            self.stdout.write(summary.line())
