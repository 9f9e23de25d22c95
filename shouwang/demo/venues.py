"""The demo county's venues and place codes, a few people with status facts, and a week of scans.

Runs after the people are written (generator.CountyGenerator.run). It draws from its own ``random.Random``
seeded from the county's seed, so the people do not change when this part changes, and the same seed and size
always give the same venues and scans. Only the code tokens are random (``services.new_token``): a token is a
credential, so a public seed must not predict it.

- Venues (a few hundred): a gate for every compound of the county town, shops, restaurants, banks, clinics and
  so on in its community grids, the institutions of the special grids (hospitals, schools, the bus station with
  its buses, the market, the industrial park), the township seats (government, health centre, school, market,
  bank) and in each village a shop and a clinic (some villages have neither: the inspectors' "missing" list).
  A few venues were closed in July, two had their code re-issued (the old code is revoked), and about one in
  twenty has a code nobody scans (僵尸码).
- Status facts, published through ``status.services.fact_publish`` as the owning domains will: two people in home
  health monitoring, one spatio-temporal companion (yellow), one close contact, one in central quarantine and
  one high-risk building (red).
- Scans: SCAN_DAYS days ending on DEMO_DATE, daytime hours, popularity skewed per venue; people scan their own
  compound's gate, venues of their village and township, and now and then the county town. Checkpoint scans are
  reverse scans by the demo checkpoint user, with a temperature. Each scan keeps the colour the person had that
  day. Rows are written with one executemany, in time order.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from faker.providers.person.zh_CN import Provider as ZhPerson

from shouwang.accounts.models import User
from shouwang.areas.enums import AreaLevel, GridKind
from shouwang.areas.models import Area
from shouwang.demo.generator import (
    COUNTY,
    COUNTY_CODE,
    REFERENCE_DATE,
    SPECIAL_GRIDS,
    STREETS,
    TOWN,
    RowInserter,
    reset_sequences,
)
from shouwang.people.models import Person
from shouwang.policy.selectors import ruleset_in_force
from shouwang.status.enums import FactKind
from shouwang.status.models import StatusFact
from shouwang.status.services import derive, fact_publish, status_refresh
from shouwang.venues.enums import ScanMethod, VenueStatus
from shouwang.venues.enums import VenueCategory as C
from shouwang.venues.models import Scan, Venue, VenueCode
from shouwang.venues.services import new_token

DEMO_DATE = dt.date(2022, 7, 15)  # the business date of the demo (scripts/demo, the browser tests)
SCAN_DAYS = 7
CODES_ISSUED = dt.datetime(2022, 5, 20, 9, 0)  # when the county put up its place codes
REISSUED = dt.datetime(2022, 7, 6, 15, 30)
CENTRE = (35.9686, 111.8483)  # 天坛镇, the county town

# Popularity of a category (scans per day of an average venue, relative); schools are on summer holiday.
CATEGORY_WEIGHT = {
    C.SUPERMARKET: 14, C.CONVENIENCE: 5, C.MARKET: 30, C.RESTAURANT: 4, C.HOTEL: 2, C.SCHOOL: 0.4,
    C.KINDERGARTEN: 0.4, C.TRAINING: 1.2, C.HOSPITAL: 12, C.CLINIC: 2, C.PHARMACY: 3, C.CARE_HOME: 0.6,
    C.WELFARE: 0.6, C.OFFICE: 2, C.GOVERNMENT: 3, C.SERVICE_HALL: 5, C.BANK: 3, C.POST: 1.5, C.EXPRESS: 2,
    C.FACTORY: 4, C.CONSTRUCTION: 1, C.BUS_STATION: 6, C.BUS: 3, C.TAXI: 1, C.PARKING: 1, C.GAS_STATION: 2,
    C.SERVICE_AREA: 2, C.CHECKPOINT: 2, C.CINEMA: 1.5, C.KTV: 1, C.INTERNET_CAFE: 1.5, C.GYM: 1, C.BATH: 0.7,
    C.BARBER: 1.5, C.LIBRARY: 1, C.RELIGIOUS: 0.5, C.SCENIC: 1.5, C.COMPOUND: 0,
}
# Where the door staff take temperatures.
TEMPERATURE_CATEGORIES = {C.HOSPITAL, C.CLINIC, C.SCHOOL, C.GOVERNMENT, C.SERVICE_HALL, C.CHECKPOINT,
                          C.BUS_STATION, C.CARE_HOME, C.WELFARE, C.KINDERGARTEN}
TEMPERATURES = [Decimal(f"36.{d}") for d in range(10)] + [Decimal("37.0"), Decimal("37.1")]
TEMPERATURE_WEIGHTS = [1, 2, 4, 7, 9, 9, 7, 5, 3, 2, 1, 1]
ZOMBIE_SHARE = 0.05

# Scans a phone user makes in a day (0-4), and at what hour.
COUNT_WEIGHTS = [50, 28, 14, 6, 2]
HOUR_WEIGHTS = {6: 2, 7: 6, 8: 9, 9: 8, 10: 7, 11: 8, 12: 7, 13: 4, 14: 4, 15: 5, 16: 6, 17: 8, 18: 8, 19: 6,
                20: 4, 21: 2}
GATE_SHARE = 0.55  # town residents who scan their compound's gate on a given day
# How much people whose code is red or yellow still go out.
ACTIVITY = {"green": 1.0, "yellow": 0.6, "red": 0.15}
# Which pool a villager's scan falls in: own village, own township seat, the county town.
VILLAGE_BOOST, SEAT_BOOST, TOWN_TRIP = 6.0, 2.0, 0.25

TOWN_SHOPS = [  # category, how many per community grid (low, high), name patterns
    (C.CONVENIENCE, (1, 2), ["美宜佳便利店（{street}店）", "唐久便利（{street}店）", "好邻居便利店", "{surname}记便民超市",
                             "金虎便利（{street}店）"]),
    (C.SUPERMARKET, (0, 1), ["浮山华联超市（{street}店）", "美特好超市（{street}店）", "家家利超市", "万家福购物广场"]),
    (C.RESTAURANT, (1, 3), ["{surname}记刀削面", "浮山羊汤馆", "老字号饸饹面", "{street}牛肉丸子汤", "好再来饭店",
                            "晋味面馆", "{surname}家小炒", "蜜雪冰城（{street}店）", "华莱士（{street}店）", "浮山烧饼铺",
                            "德庄火锅", "杨国福麻辣烫"]),
    (C.PHARMACY, (0, 1), ["老百姓大药房（{street}店）", "漱玉平民大药房", "惠民大药房", "仁和堂药店"]),
    (C.BARBER, (0, 1), ["{surname}记理发店", "名剪造型", "丝域养发馆", "靓丽美容美发"]),
    (C.CLINIC, (0, 1), ["{surname}氏诊所", "{community}卫生服务站", "康宁口腔诊所"]),
    (C.BANK, (0, 1), ["中国工商银行浮山支行", "中国农业银行浮山支行", "中国建设银行浮山支行", "浮山农商银行{street}分理处",
                      "中国邮政储蓄银行浮山支行", "中国银行浮山支行"]),
    (C.EXPRESS, (0, 1), ["菜鸟驿站（{street}）", "中通快递{street}网点", "顺丰速运浮山营业部"]),
]
# One of these in some community grids.
TOWN_EXTRAS = [
    (C.HOTEL, ["天坛宾馆", "浮山大酒店", "如家快捷酒店（浮山店）", "锦江之星（浮山店）"]),
    (C.INTERNET_CAFE, ["网鱼网咖（浮山店）", "星空网吧"]),
    (C.KTV, ["金嗓子KTV", "唱吧量贩KTV"]),
    (C.GYM, ["力美健身房", "浮山全民健身中心"]),
    (C.BATH, ["舒心浴池", "清泉洗浴"]),
    (C.TRAINING, ["新航道培训学校", "小天才艺术培训", "启明星书法培训"]),
    (C.KINDERGARTEN, ["阳光幼儿园", "天坛镇中心幼儿园"]),
    (C.CINEMA, ["浮山影剧院"]),
    (C.LIBRARY, ["浮山县图书馆", "浮山县文化馆"]),
    (C.GAS_STATION, ["中国石化浮山城区加油站"]),
    (C.PARKING, ["府前街停车场"]),
    (C.CARE_HOME, ["浮山县颐养中心"]),
    (C.WELFARE, ["浮山县社会福利中心"]),
    (C.OFFICE, ["浮山县供电公司营业厅", "中国移动浮山营业厅"]),
    (C.CONSTRUCTION, ["府前街棚户区改造工地"]),
    (C.TAXI, ["浮山出租车服务站"]),
]
EXTRA_SHARE = 0.45
SPECIAL = {  # special grid (as in generator.SPECIAL_GRIDS) -> its venues
    "县人民医院": [("浮山县人民医院门诊", C.HOSPITAL), ("浮山县人民医院住院部", C.HOSPITAL),
                   ("浮山县人民医院发热门诊", C.HOSPITAL)],
    "县中医院": [("浮山县中医院", C.HOSPITAL)],
    "县疾控中心": [("浮山县疾病预防控制中心", C.GOVERNMENT)],
    "浮山中学": [("浮山中学", C.SCHOOL)],
    "第二中学": [("浮山县第二中学", C.SCHOOL)],
    "第一小学": [("浮山县第一小学", C.SCHOOL)],
    "职业中学": [("浮山县职业中学", C.SCHOOL)],
    "工业园区": [("浮山工业园区铸造厂", C.FACTORY), ("浮山工业园区建材公司", C.FACTORY),
                 ("浮山工业园区食品加工厂", C.FACTORY), ("浮山工业园区新能源公司", C.FACTORY),
                 ("浮山县冷链物流中心", C.EXPRESS), ("工业园区职工食堂", C.RESTAURANT)],
    "汽车客运站": [("浮山县汽车客运站", C.BUS_STATION)],
    "农贸市场": [("浮山县农贸市场", C.MARKET), ("农贸市场冷鲜肉区", C.MARKET)],
    "县政府机关": [("浮山县人民政府", C.GOVERNMENT), ("浮山县政务服务中心", C.SERVICE_HALL)],
    "快递物流园": [("浮山县快递物流园", C.EXPRESS), ("中国邮政浮山分公司", C.POST)],
}
BUS_ROUTES = [("1路", "客运站—县医院—工业园区"), ("2路", "农贸市场—府前街—浮山中学"), ("3路", "客运站—东城—南关"),
              ("4路", "县政府—新华路—西城"), ("城乡5路", "客运站—响水河镇"), ("城乡6路", "客运站—东张乡—张庄乡")]
SEAT_VENUES = [  # in the seat village of every township outside the county town
    ("{township}人民政府", C.GOVERNMENT, 1.0), ("{township}卫生院", C.HOSPITAL, 1.0),
    ("{township}中心小学", C.SCHOOL, 1.0), ("{township}初级中学", C.SCHOOL, 0.6),
    ("{township}集贸市场", C.MARKET, 0.9), ("浮山农商银行{township}支行", C.BANK, 0.9),
    ("{township}便民服务中心", C.SERVICE_HALL, 0.8), ("{township}羊汤馆", C.RESTAURANT, 0.9),
    ("{township}{surname}家饭店", C.RESTAURANT, 0.6), ("{township}中心幼儿园", C.KINDERGARTEN, 0.7),
    ("{township}供销社超市", C.SUPERMARKET, 0.8), ("{township}敬老院", C.CARE_HOME, 0.5),
]
SEAT_SPECIAL = {  # township -> extra venues in its seat village
    "响水河镇": [("浮山收费站疫情防控卡口", C.CHECKPOINT), ("中国石化响水河加油站", C.GAS_STATION)],
    "东张乡": [("东张乡疫情防控卡口", C.CHECKPOINT), ("中国石油东张加油站", C.GAS_STATION)],
    "北王乡": [("龙角山景区", C.SCENIC), ("天圣宫", C.RELIGIOUS)],
    "张庄乡": [("张庄乡建筑工地（乡村振兴项目）", C.CONSTRUCTION)],
}
VILLAGE_SHOP, VILLAGE_CLINIC = 0.88, 0.8
VILLAGE_SHOP_NAMES = ["{village}便民店", "{village}{surname}家小卖部", "{village}供销便利店"]
# Closed in July (day closed, category): a KTV, an internet café and a bath house under the July rules.
CLOSE = {C.KTV: dt.date(2022, 7, 11), C.INTERNET_CAFE: dt.date(2022, 7, 12), C.BATH: dt.date(2022, 7, 12)}
REISSUE_NAMES = ("浮山县农贸市场", "浮山县汽车客运站")  # posters copied and put up elsewhere


@dataclass
class VenuePlan:
    name: str
    category: str
    area_id: int
    address: str
    pool: str  # "town", a village code, or "" (only scanned as a home gate)
    lat: float
    lon: float
    weight: float = 0.0
    gate_of: str = ""  # compound code for compound gates
    closed_on: dt.date | None = None
    reissue: bool = False
    pk: int | None = None


@dataclass
class VenueSummary:
    venues: int = 0
    closed: int = 0
    codes: int = 0
    revoked: int = 0
    scans: int = 0
    fact_people: int = 0


def _stamper(day: dt.date) -> Callable[[int], object]:
    """second of the local day -> the value the database driver takes for a DateTimeField.

    What connection.ops.adapt_datetimefield_value answers, computed from the day's midnight: on SQLite the naive
    UTC time as text (the county's zone has no daylight saving), elsewhere the aware datetime. A million calls of
    the adapter would take seconds."""
    midnight = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    if connection.vendor != "sqlite":
        return lambda second: midnight + dt.timedelta(seconds=second)
    base = timezone.make_naive(midnight, connection.timezone)
    return lambda second: str(base + dt.timedelta(seconds=second))


def _twins(people: list[tuple[int, str, dt.date, str, str]]) -> set[int]:
    """The planted likely duplicates and their originals (same name and mobile). They get no scans and no facts:
    merging them moves every linked row to the kept file, and the scan log cannot be updated."""
    pairs = Counter((name, mobile) for _, _, _, mobile, name in people if mobile)
    return {pid for pid, _, _, mobile, name in people if mobile and pairs[(name, mobile)] > 1}


class VenueGenerator:
    def __init__(self, *, seed: int, county_path: str):
        self.rng = random.Random(f"shouwang-venues-{seed}")
        self.county_path = county_path
        self.plans: list[VenuePlan] = []
        self._names: set[str] = set()
        self._surnames = list(ZhPerson.last_names.keys())[:60]
        self.summary = VenueSummary()

    # --- small draws -----------------------------------------------------------------------------------------

    def surname(self) -> str:
        return self.rng.choice(self._surnames)

    def manager(self) -> tuple[str, str]:
        r = self.rng
        given = r.choice(ZhPerson.first_names_male if r.random() < 0.55 else ZhPerson.first_names_female)
        mobile = r.choice(("138", "139", "150", "151", "158", "159", "182", "187", "130", "131", "155", "186", "133",
                           "189")) + f"{r.randrange(10**8):08d}"
        return self.surname() + given, mobile

    def unique(self, name: str, *alternatives: str) -> str:
        """The name, or the first alternative not taken yet, or the name as a numbered branch (二店, 三店 ...)."""
        for candidate in (name, *alternatives):
            if candidate not in self._names:
                self._names.add(candidate)
                return candidate
        base = name.split("（")[0]
        for n in itertools.count(2):
            candidate = f"{base}（{'二三四五六七八九'[n - 2] if n < 10 else n}店）"
            if candidate not in self._names:
                self._names.add(candidate)
                return candidate
        raise AssertionError  # pragma: no cover

    def near(self, centre: tuple[float, float], spread: float) -> tuple[float, float]:
        r = self.rng
        return round(centre[0] + r.uniform(-spread, spread), 6), round(centre[1] + r.uniform(-spread, spread), 6)

    def add(self, name: str, category: str, area_id: int, address: str, pool: str, centre: tuple[float, float],
            spread: float = 0.004, **extra) -> VenuePlan:
        lat, lon = self.near(centre, spread)
        plan = VenuePlan(name=name, category=category, area_id=area_id, address=address, pool=pool, lat=lat, lon=lon,
                         **extra)
        self.plans.append(plan)
        return plan

    # --- venues ----------------------------------------------------------------------------------------------

    def plan_venues(self, areas: list[dict]) -> None:
        r = self.rng
        town_code = f"{COUNTY_CODE}100"
        by_code = {a["code"]: a for a in areas}
        grids = [a for a in areas if a["level"] == AreaLevel.GRID]
        community_grids = [g for g in grids if g["grid_kind"] == GridKind.COMMUNITY]
        compounds = [a for a in areas if a["level"] == AreaLevel.COMPOUND and a["code"].startswith(town_code)]
        extras = list(TOWN_EXTRAS)
        r.shuffle(extras)
        # The county town: a gate per compound, shops per community grid, now and then something else.
        for compound in compounds:
            gate = r.choice(("南门", "东门", "西门", "北门", "正门"))
            self.add(self.unique(f"{compound['name']}{gate}"), C.COMPOUND, compound["id"],
                     compound["address"], "", CENTRE, 0.01, gate_of=compound["code"])
        for grid in community_grids:
            community = by_code[grid["code"][:12]]["name"]
            centre = self.near(CENTRE, 0.008)
            for category, (low, high), names in TOWN_SHOPS:
                for _ in range(r.randint(low, high)):
                    street = r.choice(STREETS)
                    pattern = r.choice(names)
                    values = {"surname": self.surname(), "community": community}
                    name = pattern.format(street=street, **values)
                    others = [pattern.format(street=s, **values) for s in STREETS if "{street}" in pattern]
                    if "（" not in pattern:
                        others.append(f"{name}（{street}店）")
                    self.add(self.unique(name, *others), category, grid["id"],
                             f"{COUNTY}{TOWN}{street}{r.randint(1, 180)}号", "town", centre)
            if extras and r.random() < EXTRA_SHARE:
                category, names = extras.pop()
                street = r.choice(STREETS)
                self.add(self.unique(*r.sample(names, len(names))), category, grid["id"],
                         f"{COUNTY}{TOWN}{street}{r.randint(1, 180)}号", "town", centre)
        # The special grids: hospitals, schools, the market, the bus station and its buses.
        special = {g["name"].removesuffix("专属网格"): g for g in grids if g["grid_kind"] == GridKind.SPECIAL}
        for key in SPECIAL_GRIDS:
            grid = special.get(key)
            if grid is None:
                continue
            centre = self.near(CENTRE, 0.012)
            for name, category in SPECIAL.get(key, []):
                self.add(self.unique(name), category, grid["id"], f"{COUNTY}{TOWN}{key}", "town", centre, 0.001)
            if key == "汽车客运站":
                for route, stops in BUS_ROUTES:
                    for _ in range(2):
                        plate = f"晋L·D{r.randint(10000, 19999)}"
                        self.add(self.unique(f"公交{route}（{plate}）"), C.BUS, grid["id"], stops, "town", centre)
        # Township seats (their first village) and the villages.
        townships = [a for a in areas if a["level"] == AreaLevel.TOWNSHIP and a["code"] != town_code]
        rural = [g for g in grids if g["grid_kind"] == GridKind.RURAL]
        for township in townships:
            villages = [g for g in rural if g["code"].startswith(township["code"])]
            if not villages:
                continue
            seat = villages[0]
            seat_centre = self.near(CENTRE, 0.12)
            township["seat_code"] = seat["code"][:12]
            township["centre"] = seat_centre
            for pattern, category, chance in SEAT_VENUES:
                if r.random() < chance:
                    name = pattern.format(township=township["name"], surname=self.surname())
                    self.add(self.unique(name), category, seat["id"], f"{COUNTY}{township['name']}",
                             seat["code"][:12], seat_centre)
            for name, category in SEAT_SPECIAL.get(township["name"], []):
                self.add(self.unique(name), category, seat["id"], f"{COUNTY}{township['name']}", seat["code"][:12],
                         seat_centre, 0.02)
            for grid in villages:
                village = grid["name"].removesuffix("网格")
                centre = seat_centre if grid is seat else self.near(seat_centre, 0.04)
                if r.random() < VILLAGE_SHOP:
                    name = r.choice(VILLAGE_SHOP_NAMES).format(village=village, surname=self.surname())
                    self.add(self.unique(name, township["name"] + name), C.CONVENIENCE, grid["id"], grid["address"],
                             grid["code"][:12], centre, 0.002)
                if r.random() < VILLAGE_CLINIC:
                    clinic = self.unique(f"{village}卫生室", f"{township['name']}{village}卫生室")
                    self.add(clinic, C.CLINIC, grid["id"], grid["address"], grid["code"][:12], centre, 0.002)
        # Popularity, closures and re-issued codes.
        closing = dict(CLOSE)
        for plan in self.plans:
            base = CATEGORY_WEIGHT[plan.category]
            plan.weight = 0.0 if r.random() < ZOMBIE_SHARE else base * r.lognormvariate(0, 0.7)
            if plan.category in closing:
                plan.closed_on = closing.pop(plan.category)
            plan.reissue = plan.name in REISSUE_NAMES
        # At least a few zombie codes even in a small county, outside the town's gates.
        scanned = [p for p in self.plans if p.pool and p.weight > 0 and p.closed_on is None]
        for plan in r.sample(scanned, min(3, len(scanned))):
            if plan.name not in REISSUE_NAMES:
                plan.weight = 0.0

    def write_venues(self) -> None:
        created = timezone.make_aware(CODES_ISSUED)
        venues = []
        for plan in self.plans:
            name, mobile = self.manager()
            venues.append(Venue(name=plan.name, category=plan.category, area_id=plan.area_id, address=plan.address,
                                latitude=Decimal(str(plan.lat)), longitude=Decimal(str(plan.lon)), manager_name=name,
                                manager_mobile=mobile,
                                status=VenueStatus.CLOSED if plan.closed_on else VenueStatus.ACTIVE))
        Venue.objects.bulk_create(venues, batch_size=2000)
        for plan, venue in zip(self.plans, venues, strict=True):
            plan.pk = venue.pk
        codes = [VenueCode(venue_id=p.pk, token=new_token()) for p in self.plans]
        codes += [VenueCode(venue_id=p.pk, token=new_token()) for p in self.plans if p.reissue]
        VenueCode.objects.bulk_create(codes, batch_size=2000)
        # Seed data carries the dates of 2022, not the day the demo was built.
        ids = [p.pk for p in self.plans]
        Venue.objects.filter(id__in=ids).update(created_at=created, updated_at=created)
        VenueCode.objects.filter(venue_id__in=ids).update(issued_at=created)
        first_codes = [c.pk for c in codes[: len(self.plans)] if c.venue_id in {p.pk for p in self.plans if p.reissue}]
        reissued = timezone.make_aware(REISSUED)
        VenueCode.objects.filter(id__in=first_codes).update(revoked_at=reissued)
        VenueCode.objects.filter(id__in=[c.pk for c in codes[len(self.plans):]]).update(issued_at=reissued)
        for plan in self.plans:
            if plan.closed_on:
                closed = timezone.make_aware(dt.datetime.combine(plan.closed_on, dt.time(8, 0)))
                Venue.objects.filter(id=plan.pk).update(updated_at=closed)
        s = self.summary
        s.venues = len(self.plans)
        s.closed = sum(1 for p in self.plans if p.closed_on)
        s.codes = len(codes)
        s.revoked = len(first_codes)

    # --- status facts ----------------------------------------------------------------------------------------

    def publish_facts(self, people: list[tuple[int, str, dt.date, str, str]], areas: list[dict]) -> dict[int, list]:
        """Facts for a handful of town residents and one high-risk building; returns their facts by person."""
        r = self.rng
        town_code = f"{COUNTY_CODE}100"
        first_grid = f"{town_code}001001"  # the demo grid worker's grid
        names = {a["code"]: a["name"] for a in areas}
        buildings: dict[str, list[int]] = {}
        adults = []
        twins = _twins(people)
        for pid, code, birth, mobile, _name in people:
            if "-B" in code and "-C" in code:
                buildings.setdefault(code.split("-U")[0], []).append(pid)
            if (code.startswith(town_code) and mobile and birth and pid not in twins
                    and 20 <= (REFERENCE_DATE - birth).days // 365 <= 60):
                adults.append((pid, code))
        building = r.choice(sorted(b for b, ids in buildings.items() if len(ids) >= 4 and not twins & set(ids)))
        zone_people = buildings[building]
        others = [a for a in adults if not a[1].startswith(building)]
        in_first_grid = [a[0] for a in others if a[1].startswith(first_grid)]
        hhm_first = r.choice(in_first_grid) if in_first_grid else None
        pool = [a[0] for a in others if a[0] != hhm_first]
        picks = r.sample(pool, 5)
        hhm = [hhm_first or picks[4], picks[0]]
        companion, contact, quarantined = picks[1], picks[2], picks[3]
        d = DEMO_DATE
        day = dt.timedelta(days=1)
        compound = building.rsplit("-B", 1)[0]
        publish = [
            (hhm, FactKind.MEASURE, "home_health_monitoring", d - 3 * day, d + 2 * day, "quarantine.plan", "DEMO-Q-0102",
             "集中隔离期满后居家健康监测"),
            ([companion], FactKind.FLAG, "spatio_temporal_companion", d - day, d + day, "tracing.companion",
             "DEMO-T-0711", "与外地确诊病例时空伴随，需72小时内两次核酸"),
            ([contact], FactKind.FLAG, "close_contact", d - day, None, "tracing.contact", "DEMO-T-0714",
             "与外地确诊病例同乘城乡班车，待转运隔离"),
            ([quarantined], FactKind.MEASURE, "central_quarantine", d - 6 * day, d, "quarantine.plan", "DEMO-Q-0098",
             "密接，集中隔离医学观察"),
            ([quarantined], FactKind.MEASURE, "home_health_monitoring", d + day, d + 3 * day, "quarantine.plan",
             "DEMO-Q-0098", "集中隔离期满后居家健康监测"),
            (zone_people, FactKind.ZONE, "high", d - 2 * day, None, "zones.zone", "DEMO-Z-01",
             f"{names.get(compound, '')}{names.get(building, '')}划为高风险区"),
        ]
        for ids, kind, value, since, until, source, source_id, note in publish:
            fact_publish(person_ids=ids, kind=kind, value=value, since=since, until=until, source=source,
                         source_id=source_id, note=note)
        everyone = sorted({pid for ids, *_ in publish for pid in ids})
        # fact_publish refreshed the statuses for the real today; the demo lives on DEMO_DATE.
        status_refresh(everyone, on=DEMO_DATE)
        self.summary.fact_people = len(everyone)
        facts: dict[int, list] = {}
        for f in StatusFact.objects.filter(person_id__in=everyone, withdrawn_at__isnull=True):
            facts.setdefault(f.person_id, []).append(f)
        return facts

    # --- scans -----------------------------------------------------------------------------------------------

    def scan_days(self, people: list[tuple[int, str, dt.date, str, str]], facts: dict[int, list],
                  checkpoint_user: int | None) -> Iterator[list[tuple]]:
        """The scans, one day at a time (in time order), as rows for RowInserter."""
        r = self.rng
        town_code = f"{COUNTY_CODE}100"
        days = [DEMO_DATE - dt.timedelta(days=SCAN_DAYS - 1 - i) for i in range(SCAN_DAYS)]
        colours: dict[int, list[str]] = {}
        for pid, person_facts in facts.items():
            colours[pid] = [derive(person_facts, ruleset_in_force(day), day).colour for day in days]
        plans = self.plans
        town = [(i, p.weight) for i, p in enumerate(plans) if p.pool == "town" and p.weight > 0]
        villages: dict[str, list[tuple[int, float]]] = {}
        for i, p in enumerate(plans):
            if p.pool not in ("", "town") and p.weight > 0:
                villages.setdefault(p.pool, []).append((i, p.weight))
        seats = {code[:9]: code for code in villages
                 if any(plans[i].category == C.GOVERNMENT for i, _ in villages[code])}

        def pool_for(entries: list[tuple[int, float]]) -> tuple[list[int], list[float], float]:
            cum = list(itertools.accumulate(w for _, w in entries))
            return [i for i, _ in entries], cum, cum[-1] if cum else 0.0

        pools: dict[str, tuple[list[int], list[float], float]] = {"town": pool_for(town)}
        gates = {p.gate_of: i for i, p in enumerate(plans) if p.gate_of and p.closed_on is None}
        # Who scans: phone users of 14 and over (the over-75s half as often), with their pool and gate.
        twins = _twins(people)
        scanners: list[tuple[int, str, int | None, float]] = []
        for pid, code, birth, mobile, _name in people:
            if not mobile or birth is None or pid in twins:
                continue
            age = (REFERENCE_DATE - birth).days // 365
            if age < 14:
                continue
            if code.startswith(town_code):
                key, gate = "town", gates.get(code.split("-B")[0]) if "-C" in code else None
            else:
                key, gate = code[:12], None
                if key not in pools:
                    seat = seats.get(key[:9], key)
                    entries = ([(i, w * VILLAGE_BOOST) for i, w in villages.get(key, [])]
                               + [(i, w * SEAT_BOOST) for i, w in (villages.get(seat, []) if seat != key else [])]
                               + [(i, w * TOWN_TRIP) for i, w in town])
                    pools[key] = pool_for(entries)
            scanners.append((pid, key, gate, 1.0 if age <= 75 else 0.5))
        hours = list(HOUR_WEIGHTS)
        hour_cum = list(itertools.accumulate(HOUR_WEIGHTS.values()))
        count_cum = list(itertools.accumulate(COUNT_WEIGHTS))
        temp_cum = list(itertools.accumulate(TEMPERATURE_WEIGHTS))
        gate_hours = (7, 8, 12, 17, 18, 19)
        categories = [p.category for p in plans]
        venue_ids = [p.pk for p in plans]
        for d, day in enumerate(days):
            open_today = [p.closed_on is None or day < p.closed_on for p in plans]
            rows: list[tuple[int, int, int, str]] = []  # (second of the day, venue index, person, colour)
            for pid, key, gate, rate in scanners:
                person_colours = colours.get(pid)
                colour = person_colours[d] if person_colours else "green"
                activity = rate * ACTIVITY[colour]
                if gate is not None and r.random() < GATE_SHARE * activity:
                    rows.append((r.choice(gate_hours) * 3600 + r.randrange(3600), gate, pid, colour))
                index, cum, total = pools[key]
                if r.random() >= activity or not total:
                    continue
                for _ in range(bisect.bisect_right(count_cum, r.random() * count_cum[-1])):
                    venue = index[min(bisect.bisect_right(cum, r.random() * total), len(index) - 1)]
                    if open_today[venue]:
                        hour = hours[bisect.bisect_right(hour_cum, r.random() * hour_cum[-1])]
                        rows.append((hour * 3600 + r.randrange(3600), venue, pid, colour))
            rows.sort()
            stamp = _stamper(day)
            out = []
            for second, venue, pid, colour in rows:
                category = categories[venue]
                temperature = None
                if category in TEMPERATURE_CATEGORIES:
                    temperature = TEMPERATURES[bisect.bisect_right(temp_cum, r.random() * temp_cum[-1])]
                reverse = category == C.CHECKPOINT and checkpoint_user is not None
                out.append((venue_ids[venue], pid, stamp(second), stamp(second + 1),
                            ScanMethod.REVERSE.value if reverse else ScanMethod.SELF.value, temperature, colour,
                            checkpoint_user if reverse else None, ""))
            yield out

    # --- the whole part --------------------------------------------------------------------------------------

    def run(self) -> VenueSummary:
        areas = list(Area.objects.subtree(self.county_path).values("id", "code", "name", "level", "grid_kind",
                                                                   "address"))
        self.plan_venues(areas)
        self.write_venues()
        people = list(Person.objects.filter(merged_into__isnull=True).order_by("id")
                      .values_list("id", "area__code", "birth_date", "mobile", "name"))
        facts = self.publish_facts(people, areas)
        checkpoint = User.objects.filter(username="checkpoint").values_list("id", flat=True).first()
        writer = RowInserter(Scan, ["venue", "person", "scanned_at", "received_at", "method", "temperature", "colour",
                                    "recorded_by", "client_ref"])
        for rows in self.scan_days(people, facts, checkpoint):
            writer.insert(rows)
            self.summary.scans += len(rows)
        reset_sequences([Scan])
        return self.summary
