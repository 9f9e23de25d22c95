"""A synthetic county shaped like 浮山县 (Fushan, Linfen, Shanxi) for the demo and the benchmarks.

Everything is drawn from one ``random.Random(seed)`` in a fixed order, so a seed and a size always give the
same county: the same tree, the same households, the same names and ID numbers. Ages, vaccination dates and
the like are measured from REFERENCE_DATE (2022-04-15), never from today.

The shape follows the seed documents (DIGEST §10): 7 townships; 136 villages with one rural grid each;
天坛镇 (the county town) with 6 communities of 6 grids each (36 community grids), compounds, buildings and
units under them; 12 special grids; 136 rural grid workers, 27 grid officers, 36 community grid workers and
22 assistants. The population (default 120,000) scales the number of compounds in the county town.

The tree below the county is written with bulk_create: the materialised paths (treebeard MP_Node: steplen 4,
alphabet 0-9A-Z, siblings in code order as ``node_order_by = ["code"]`` keeps them) are computed here.
People, households, tags and doses are bulk-inserted too; no row history is written for seed data.
Every township, village, grid, compound and building gets a boundary (shouwang/demo/shapes.py).
Venues, place codes, a few status facts and a week of scans follow (shouwang/demo/venues.py), then mass testing:
sampling sites, labs, a finished round and one in progress (shouwang/demo/testing.py), the quarantine sites
(shouwang/demo/quarantine.py), the outbreak with its contacts transferred, admitted and released
(shouwang/demo/tracing.py) and HQ's risk-zone decisions between its case reports (shouwang/demo/zones.py), the demo
day's monitoring and home quarantine (shouwang/demo/quarantine.py), and the zones' statuses for the demo day.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from faker.providers.person.zh_CN import Provider as ZhPerson

from shouwang.accounts.enums import Role
from shouwang.accounts.models import User
from shouwang.accounts.services import user_create
from shouwang.areas.enums import AreaLevel, GridKind, GridWorkerRole
from shouwang.areas.models import Area, GridWorker, Household
from shouwang.areas.services import area_ensure_gb2260_chain
from shouwang.demo.shapes import DemoShapes
from shouwang.people.enums import IdType, PersonTag, ResidenceKind, Sex
from shouwang.people.identifiers import make_resident_id
from shouwang.people.models import Person, PersonTagging, VaccinationDose

REFERENCE_DATE = dt.date(2022, 4, 15)
DEMO_PASSWORD = "Shouwang-2022"
DEFAULT_PEOPLE = 120_000
MIN_PEOPLE = 1_000
BATCH = 5_000

COUNTY_CODE = "141027"  # 浮山县, 临汾市 141000, 山西省 140000 (GB/T 2260)
OLD_COUNTY_CODE = "142629"  # 浮山县 under the former 临汾地区, on the cards of people born before 2000
COUNTY = "浮山县"
TOWN = "天坛镇"

# (name, number of villages); 天坛镇 (the county town) holds the six communities instead.
TOWNSHIPS = [
    (TOWN, 0), ("响水河镇", 30), ("东张乡", 24), ("张庄乡", 22), ("北王乡", 22), ("槐埝乡", 20), ("寨圪塔乡", 18),
]
COMMUNITIES = ["城关社区", "府前社区", "新华社区", "东城社区", "西城社区", "南关社区"]
GRIDS_PER_COMMUNITY = 6
GRID_ORDINALS = ["第一", "第二", "第三", "第四", "第五", "第六"]
SPECIAL_GRIDS = [
    "县人民医院", "县中医院", "县疾控中心", "浮山中学", "第二中学", "第一小学", "职业中学", "工业园区",
    "汽车客运站", "农贸市场", "县政府机关", "快递物流园",
]
DORM_GRID = "工业园区"  # the one special grid people live in (workers' dormitories)
# Grid officers (网格专干) per township, in TOWNSHIPS order: 27 in all.
OFFICERS = [6, 4, 4, 4, 3, 3, 3]
ASSISTANTS_IN_COMMUNITY_GRIDS = 10  # + one in each special grid = 22

# Shares of the population: county town, workers' dormitories; the rest lives in the villages.
TOWN_SHARE = 0.36
DORM_SHARE = 0.008
DUPLICATES = 3

# --- word lists -----------------------------------------------------------------------------------------------

VILLAGE_HEADS = [
    "东", "西", "南", "北", "上", "下", "前", "后", "中", "王家", "李家", "张家", "赵家", "刘家", "杨家", "郭家",
    "贾家", "史家", "吕家", "段家", "卫家", "范家", "梁家", "韩家", "孙家", "高", "石", "柳", "杏", "枣", "槐",
    "松", "桃", "马", "牛", "龙", "凤", "官", "新", "古", "大", "小", "河", "山", "岭", "陈", "乔", "温", "尧",
    "舜", "白", "黄", "杜", "董", "宋",
]
VILLAGE_TAILS = [
    "村", "庄村", "坡村", "沟村", "峪村", "岭村", "河村", "堡村", "寨村", "窑村", "头村", "底村", "里村", "湾村",
    "原村", "垣村", "院村", "泉村",
]
COMPOUND_HEADS = [
    "幸福", "锦绣", "阳光", "金色", "和平", "华府", "滨河", "天坛", "文化", "府前", "东方", "御景", "龙城", "盛世",
    "紫金", "翠竹", "康乐", "丽景", "世纪", "新华", "凤凰", "书香", "福泽", "泰和", "永安", "祥和", "瑞丰", "怡和",
    "碧水", "春晖",
]
COMPOUND_TAILS = ["小区", "花园", "家园", "苑", "嘉园", "名苑", "新村", "公寓", "雅居", "华庭", "佳苑", "府"]
PHASES = ["二期", "三期", "四期", "五期", "六期", "七期", "八期", "九期"]
STREETS = ["府前街", "新华路", "东关街", "南环路", "北环路", "迎宾路", "文化路", "天坛路", "建设路", "振兴路"]

# Given names typical of a generation, beside Faker's lists (mostly single characters).
OLD_MALE = ["建国", "建军", "国庆", "福贵", "春生", "满仓", "拴柱", "志刚", "文明", "国强", "保平", "来福", "建华",
            "拴牢", "永红", "卫东", "铁锁", "二虎", "根生", "跃进"]
OLD_FEMALE = ["秀英", "桂兰", "玉兰", "秀兰", "桂英", "凤英", "翠花", "改莲", "爱莲", "彩霞", "俊梅", "月娥", "巧云",
              "润梅", "金凤", "玉梅", "改花", "春梅", "爱萍", "素琴"]
YOUNG_MALE = ["子轩", "浩然", "宇轩", "梓豪", "一鸣", "子墨", "皓轩", "俊熙", "睿泽", "博文", "思远", "嘉豪"]
YOUNG_FEMALE = ["子涵", "欣怡", "梓涵", "雨桐", "一诺", "诗涵", "可馨", "梦瑶", "思琪", "语嫣", "若曦", "佳怡"]

# Mobile segments (China Mobile is the larger operator in Shanxi), and their weights.
MOBILE_PREFIXES = [
    ("138", 8), ("139", 8), ("150", 5), ("151", 5), ("152", 4), ("157", 2), ("158", 5), ("159", 5), ("182", 4),
    ("183", 4), ("187", 4), ("188", 3), ("135", 4), ("136", 3), ("137", 3), ("147", 1), ("178", 1),
    ("130", 3), ("131", 3), ("132", 3), ("155", 3), ("156", 3), ("185", 3), ("186", 3), ("166", 1), ("176", 1),
    ("133", 2), ("153", 2), ("180", 2), ("181", 2), ("189", 2), ("173", 1), ("177", 1), ("199", 2),
]

# Where spouses who married in come from (neighbouring counties of Linfen), and migrants (other provinces).
NEIGHBOUR_CODES_NEW = ["141002", "141021", "141022", "141023", "141025", "141026"]
NEIGHBOUR_CODES_OLD = ["142601", "142621", "142622", "142623", "142625", "142627"]
MIGRANT_CODES = ["410102", "410725", "411302", "610102", "610526", "140105", "140121", "140106"]

VACCINES = [("新冠灭活疫苗（Vero细胞）北京生物", 55, 2), ("新冠灭活疫苗（Vero细胞）科兴", 35, 2),
            ("重组新冠疫苗（CHO细胞）智飞", 10, 3)]

# Key-group occupations of adults (20-60): tag, share in the town, share in villages, workplaces.
OCCUPATIONS = [
    (PersonTag.MEDICAL, 0.018, 0.006, ["浮山县人民医院", "浮山县中医院", "浮山县疾病预防控制中心", "{township}卫生院",
                                       "{village}卫生室"]),
    (PersonTag.TEACHER, 0.020, 0.008, ["浮山中学", "浮山县第二中学", "浮山县第一小学", "浮山县职业中学",
                                       "{township}中心小学", "{township}初级中学"]),
    (PersonTag.COURIER, 0.006, 0.002, ["中国邮政浮山分公司", "顺丰速运浮山营业部", "中通快递浮山网点", "韵达快递浮山网点",
                                       "京东物流浮山站"]),
    (PersonTag.COLD_CHAIN, 0.002, 0.001, ["浮山县冷链物流中心", "天坛镇农产品冷库"]),
    (PersonTag.TRUCK_DRIVER, 0.010, 0.014, ["个体货运", "浮山县顺达运输有限公司", "浮山县宏远物流有限公司"]),
    (PersonTag.MARKET_WORKER, 0.008, 0.003, ["浮山县农贸市场"]),
    (PersonTag.PUBLIC_TRANSPORT, 0.004, 0.001, ["浮山县汽车客运站", "浮山县公共交通有限公司"]),
]
TOWN_WORK = ["浮山县人民政府", "浮山县教育局", "浮山县农业农村局", "国网浮山县供电公司", "浮山县农村信用合作联社",
             "中国移动浮山分公司", "浮山县自来水公司", "天坛镇人民政府", "浮山县市场监督管理局", "个体经营", "个体经营",
             "个体经营", "浮山县华联超市", "浮山县建筑公司"]
RURAL_WORK = ["务农"] * 8 + ["个体经营", "临汾市区务工", "太原市务工", "外出务工"]
DORM_WORK = ["浮山工业园区铸造厂", "浮山工业园区建材公司", "浮山工业园区食品加工厂", "浮山工业园区新能源公司"]

HOUSEHOLD_KINDS = ["elder_single", "elder_couple", "empty_nest", "single", "nuclear", "single_parent",
                   "three_gen_old_head", "three_gen_young_head"]
RURAL_KIND_WEIGHTS = [10, 17, 12, 8, 26, 4, 12, 11]
TOWN_KIND_WEIGHTS = [7, 12, 12, 11, 38, 5, 6, 9]


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


# --- the plan: nodes, households and people kept in memory until written ------------------------------------


@dataclass
class Node:
    code: str
    name: str
    level: str
    grid_kind: str = ""
    address: str = ""
    synthetic: bool = False
    children: list[Node] = field(default_factory=list)
    path: str = ""
    depth: int = 0
    pk: int | None = None
    shape: dict | None = None
    centre: list | None = None

    def add(self, child: Node) -> Node:
        self.children.append(child)
        return child


@dataclass
class Member:
    relation: str
    sex: str
    age: int
    surname: str
    origin: str = "local"  # local / neighbour / migrant
    name: str = ""
    birth: dt.date | None = None
    id_type: str = IdType.RESIDENT_ID
    id_number: str = ""
    mobile: str = ""
    workplace: str = ""
    notes: str = ""
    residence_kind: str = ResidenceKind.REGISTERED
    tags: list[str] = field(default_factory=list)
    doses: list[tuple[int, dt.date, str]] = field(default_factory=list)


@dataclass
class HouseholdPlan:
    members: list[Member]
    area: Node | None = None
    room: str = ""
    address: str = ""


@dataclass
class Summary:
    townships: int = 0
    villages: int = 0
    communities: int = 0
    grids: dict[str, int] = field(default_factory=dict)
    compounds: int = 0
    buildings: int = 0
    units: int = 0
    households: int = 0
    people: int = 0
    grid_workers: int = 0
    users: int = 0
    venues: int = 0
    scans: int = 0
    rounds: int = 0
    sites: int = 0
    tubes: int = 0
    samples: int = 0
    cases: int = 0
    contacts: int = 0
    quarantine_sites: int = 0
    in_sites: int = 0
    at_home: int = 0
    zones: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        g = self.grids
        return (f"演示县 浮山县：乡镇 {self.townships}，村 {self.villages}，社区 {self.communities}，"
                f"网格 {sum(g.values())}（农村 {g.get('rural', 0)}、社区 {g.get('community', 0)}、"
                f"专属 {g.get('special', 0)}），小区 {self.compounds}，楼栋 {self.buildings}，单元 {self.units}，"
                f"户 {self.households}，人员 {self.people}，网格员 {self.grid_workers}，账号 {self.users}，"
                f"场所 {self.venues}，扫码 {self.scans}，检测轮次 {self.rounds}，采样点 {self.sites}，"
                f"采样管 {self.tubes}，采样 {self.samples} 人次，病例 {self.cases}，密接 {self.contacts}，"
                f"隔离点 {self.quarantine_sites}，集中隔离 {self.in_sites} 人，居家隔离 {self.at_home} 人，"
                f"用时 {self.seconds:.1f} 秒")


# The demo accounts: username, role, where (county / town / first community / its first grid / 响水河镇), name.
# The quarantine sites (shouwang/demo/quarantine.py) have "quarantine" as their manager and "doctor" as their
# resident doctor (no role of its own: the quarantine manager's rights, over the town where both sites are).
DEMO_USERS = [
    ("hq", Role.HQ, "county", "王建军"),
    ("taskforce", Role.TASK_FORCE, "county", "李秀梅"),
    ("township", Role.TOWNSHIP, "town", "张志刚"),
    ("community", Role.VILLAGE, "community", "赵丽娜"),
    ("grid", Role.GRID_WORKER, "grid", "陈晓燕"),
    ("sampler", Role.SAMPLER, "town", "杨帆"),
    ("lab", Role.LAB, "county", "周敏"),
    ("quarantine", Role.QUARANTINE_MANAGER, "county", "吴海涛"),
    ("doctor", Role.QUARANTINE_MANAGER, "town", "马丽萍"),  # the quarantine sites' resident doctor (驻点医生)
    ("checkpoint", Role.CHECKPOINT, "checkpoint", "郭强"),
    ("supervisor", Role.SUPERVISOR, "county", "孙卫东"),
    ("admin", Role.ADMIN, "county", "系统管理员"),
]
DEMO_USER_NOTES = {"doctor": "驻点医生"}  # what an account is for, where its role does not say it (demo_logins)


class RowInserter:
    """INSERT many rows of one table with one executemany and ids counted here.

    Django's bulk_create spends most of its time preparing each value (a million people take minutes on
    SQLite); the rows here are already plain values in column order. Ids continue from the table's maximum,
    and reset_sequences() moves PostgreSQL's sequences past them afterwards (SQLite's AUTOINCREMENT follows
    on its own).
    """

    def __init__(self, model, fields: list[str]):
        meta = model._meta
        qn = connection.ops.quote_name
        columns = [meta.get_field(f).column for f in ["id", *fields]]
        self.model = model
        self.sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))})")
        self.next_id = (model._base_manager.aggregate(top=Max("id"))["top"] or 0) + 1

    def insert(self, rows: list[tuple]) -> int:
        """Insert the rows; return the id of the first one (the others follow in order)."""
        first = self.next_id
        if rows:
            with connection.cursor() as cursor:
                for start in range(0, len(rows), BATCH):
                    chunk = rows[start : start + BATCH]
                    cursor.executemany(self.sql, [(first + start + i, *row) for i, row in enumerate(chunk)])
            self.next_id = first + len(rows)
        return first


def reset_sequences(models: list) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class CountyGenerator:
    def __init__(self, *, seed: int = 1, people: int = DEFAULT_PEOPLE, log: Callable[[str], None] | None = None,
                 venues: bool = True, testing: bool | None = None):
        if people < MIN_PEOPLE:
            raise ValueError(f"people must be at least {MIN_PEOPLE}")
        self.seed = seed
        self.people = people
        self.venues = venues
        self.testing = venues if testing is None else testing
        self.rng = random.Random(seed)
        self.log = log or (lambda message: None)
        self.summary = Summary()
        self._used_ids: set[str] = set()
        self._used_mobiles: set[str] = set()
        self._used_passports: set[str] = set()
        surnames = ZhPerson.last_names
        self._surnames = list(surnames.keys())
        self._surname_cum = _cumulative(list(surnames.values()))
        self._male_single = [n for n in ZhPerson.first_names_male if len(n) == 1]
        self._female_single = [n for n in ZhPerson.first_names_female if len(n) == 1]
        self._male = list(ZhPerson.first_names_male)
        self._female = list(ZhPerson.first_names_female)
        self._mobile_prefixes = [p for p, _ in MOBILE_PREFIXES]
        self._mobile_cum = _cumulative([w for _, w in MOBILE_PREFIXES])
        self._vaccine_cum = _cumulative([w for _, w, _ in VACCINES])
        self._compound_names = self._compound_name_pool()
        # Write buffers.
        self._households: list[HouseholdPlan] = []
        self._pending_people = 0
        self._workers: list[GridWorker] = []
        self.shapes = DemoShapes(seed)  # boundaries, from their own random streams (shouwang/demo/shapes.py)

    def _open_writers(self) -> None:
        self._now = connection.ops.adapt_datetimefield_value(timezone.now())
        self._household_rows = RowInserter(Household, ["created_at", "updated_at", "room", "address", "notes", "area"])
        self._person_rows = RowInserter(Person, [
            "created_at", "updated_at", "name", "id_type", "id_number", "sex", "birth_date", "mobile",
            "relation_to_head", "residence_kind", "current_address", "workplace", "notes", "area", "household"])
        self._tag_rows = RowInserter(PersonTagging, ["tag", "person"])
        self._dose_rows = RowInserter(VaccinationDose, ["created_at", "updated_at", "dose_number", "given_on",
                                                        "product", "person"])

    # --- small draws -----------------------------------------------------------------------------------------

    def surname(self) -> str:
        return self.rng.choices(self._surnames, cum_weights=self._surname_cum)[0]

    def given_name(self, sex: str, age: int) -> str:
        r = self.rng
        male = sex == Sex.MALE
        if age >= 55 and r.random() < 0.35:
            return r.choice(OLD_MALE if male else OLD_FEMALE)
        if age <= 16 and r.random() < 0.35:
            return r.choice(YOUNG_MALE if male else YOUNG_FEMALE)
        if r.random() < 0.45:
            singles = self._male_single if male else self._female_single
            return r.choice(singles) + r.choice(singles)
        return r.choice(self._male if male else self._female)

    def mobile(self) -> str:
        r = self.rng
        while True:
            number = r.choices(self._mobile_prefixes, cum_weights=self._mobile_cum)[0] + f"{r.randrange(10**8):08d}"
            if number not in self._used_mobiles:
                self._used_mobiles.add(number)
                return number

    def birth_date(self, age: int) -> dt.date:
        """A birth date that makes the person exactly `age` on REFERENCE_DATE."""
        start = dt.date(REFERENCE_DATE.year - age - 1, REFERENCE_DATE.month, REFERENCE_DATE.day)
        return start + dt.timedelta(days=self.rng.randint(1, 365))

    def area_code_for(self, member: Member) -> str:
        r = self.rng
        year = member.birth.year
        if member.origin == "migrant":
            return r.choice(MIGRANT_CODES)
        if member.origin == "neighbour":
            return r.choice(NEIGHBOUR_CODES_OLD if year < 2000 and r.random() < 0.8 else NEIGHBOUR_CODES_NEW)
        if year < 2000 and r.random() < 0.75:
            return OLD_COUNTY_CODE
        return COUNTY_CODE

    def resident_id(self, code: str, birth: dt.date, sex: str) -> str:
        r = self.rng
        odd = 1 if sex == Sex.MALE else 0
        prefix = f"{code}{birth:%Y%m%d}"
        while True:
            seq = r.randrange(500) * 2 + odd
            key = f"{prefix}{seq:03d}"
            if key not in self._used_ids:
                self._used_ids.add(key)
                return make_resident_id(code, birth, seq)

    def passport(self) -> str:
        while True:
            number = f"E{self.rng.randrange(10**8):08d}"
            if number not in self._used_passports:
                self._used_passports.add(number)
                return number

    def _compound_name_pool(self) -> list[str]:
        base = [h + t for h in COMPOUND_HEADS for t in COMPOUND_TAILS]
        self.rng.shuffle(base)
        return base

    def compound_name(self, index: int) -> str:
        base = self._compound_names
        name = base[index % len(base)]
        phase = index // len(base)
        return name if phase == 0 else name + PHASES[(phase - 1) % len(PHASES)] + ("" if phase <= len(PHASES) else
                                                                                 str(phase))

    # --- households ------------------------------------------------------------------------------------------

    def family(self, *, town: bool) -> list[Member]:
        """One household's members: head first, with ages that fit together."""
        r = self.rng
        kind = r.choices(HOUSEHOLD_KINDS, weights=TOWN_KIND_WEIGHTS if town else RURAL_KIND_WEIGHTS)[0]
        family_name = self.surname()
        out: list[Member] = []

        def person(relation: str, sex: str, age: int, surname: str | None = None, origin: str = "local") -> Member:
            m = Member(relation=relation, sex=sex, age=max(0, age), surname=surname or family_name, origin=origin)
            out.append(m)
            return m

        def wife_origin() -> str:
            return "neighbour" if r.random() < 0.25 else "local"

        def children(mother_age: int, relation: str, count: int) -> None:
            age = mother_age - r.randint(22, 31)
            for _ in range(count):
                if age < 0:
                    break
                person(relation, r.choice((Sex.MALE, Sex.FEMALE)), age)
                age -= r.randint(2, 8)

        def kid_count() -> int:
            return r.choices((1, 2, 3), weights=(45, 46, 9))[0]

        if kind == "elder_single":
            sex = Sex.FEMALE if r.random() < 0.62 else Sex.MALE
            person("户主", sex, int(r.triangular(64, 96, 76)))
        elif kind in ("elder_couple", "empty_nest"):
            age = int(r.triangular(60, 92, 69)) if kind == "elder_couple" else r.randint(45, 62)
            person("户主", Sex.MALE, age)
            person("配偶", Sex.FEMALE, age - r.randint(-2, 5), self.surname(), wife_origin())
        elif kind == "single":
            sex = Sex.MALE if r.random() < (0.55 if town else 0.7) else Sex.FEMALE
            person("户主", sex, int(r.triangular(20, 64, 30)))
        elif kind == "nuclear":
            age = int(r.triangular(25, 56, 37))
            person("户主", Sex.MALE, age)
            mother = person("配偶", Sex.FEMALE, age - r.randint(-1, 4), self.surname(), wife_origin())
            children(mother.age, "子女", kid_count())
        elif kind == "single_parent":
            sex = Sex.FEMALE if r.random() < 0.65 else Sex.MALE
            head = person("户主", sex, r.randint(28, 55))
            children(head.age, "子女", r.choice((1, 1, 2)))
        elif kind == "three_gen_old_head":
            age = int(r.triangular(52, 82, 62))
            person("户主", Sex.MALE, age)
            grandmother = person("配偶", Sex.FEMALE, age - r.randint(-1, 4), self.surname(), wife_origin())
            son_age = grandmother.age - r.randint(22, 30)
            if son_age >= 20:
                person("子女", Sex.MALE, son_age)
                daughter_in_law = person("儿媳", Sex.FEMALE, son_age - r.randint(-1, 4), self.surname(),
                                         wife_origin())
                children(daughter_in_law.age, "孙子女", r.choice((1, 2)))
            else:
                children(grandmother.age, "子女", kid_count())
        else:  # three_gen_young_head: a couple, their children, one or two of the head's parents
            age = int(r.triangular(30, 56, 40))
            head = person("户主", Sex.MALE, age)
            mother = person("配偶", Sex.FEMALE, age - r.randint(-1, 4), self.surname(), wife_origin())
            children(mother.age, "子女", r.choice((1, 2)))
            parent_age = head.age + r.randint(22, 32)
            if r.random() < 0.45:
                person("父母", Sex.MALE, parent_age)
                person("父母", Sex.FEMALE, parent_age - r.randint(-1, 4), self.surname())
            else:
                sex = Sex.FEMALE if r.random() < 0.7 else Sex.MALE
                person("父母", sex, parent_age, None if sex == Sex.MALE else self.surname())
        return out[:6]

    def dorm_room(self) -> list[Member]:
        """Workers sharing a dormitory room in the industrial park: migrants from elsewhere."""
        r = self.rng
        sex = Sex.MALE if r.random() < 0.75 else Sex.FEMALE
        members = []
        for i in range(r.choice((1, 2, 2, 3, 4))):
            m = Member(relation="户主" if i == 0 else "其他", sex=sex, age=int(r.triangular(19, 55, 30)),
                       surname=self.surname(), origin="migrant" if r.random() < 0.7 else "neighbour",
                       residence_kind=ResidenceKind.TEMPORARY, workplace=r.choice(DORM_WORK))
            m.tags.append(PersonTag.MIGRANT_WORKER)
            members.append(m)
        return members

    def complete(self, members: list[Member], *, town: bool, township: str, village: str, renters: bool) -> None:
        """Names, birth dates, ID numbers, mobiles, work, tags and vaccinations of one household."""
        r = self.rng
        alone = len(members) == 1
        for m in members:
            if renters and m.origin == "local":
                m.origin = "migrant" if r.random() < 0.5 else "neighbour"
                m.residence_kind = ResidenceKind.TEMPORARY
            elif m.residence_kind == ResidenceKind.REGISTERED and r.random() < (0.06 if town else 0.02):
                m.residence_kind = ResidenceKind.RESIDENT
            m.name = m.surname + self.given_name(m.sex, m.age)
            m.birth = self.birth_date(m.age)
            m.id_number = self.resident_id(self.area_code_for(m), m.birth, m.sex)
            age = m.age
            if 18 <= age <= 75:
                has_mobile = r.random() < 0.96
            elif age > 75:
                has_mobile = r.random() < (0.6 if age <= 85 else 0.25)
            else:
                has_mobile = age >= 14 and r.random() < 0.4
            if has_mobile:
                m.mobile = self.mobile()
            self.work_and_tags(m, town=town, township=township, village=village, alone=alone)
            self.vaccinate(m)

    def work_and_tags(self, m: Member, *, town: bool, township: str, village: str, alone: bool) -> None:
        r = self.rng
        age = m.age
        tags = m.tags
        if age <= 3:
            tags.append(PersonTag.INFANT)
        if 3 <= age <= 5:
            m.workplace = f"{TOWN}中心幼儿园" if town else f"{township}中心幼儿园"
        elif 6 <= age <= 18:
            tags.append(PersonTag.STUDENT)
            if age <= 11:
                m.workplace = r.choice(("浮山县第一小学", "浮山县第二小学", "浮山县实验小学")) if town else f"{township}中心小学"
            elif age <= 14:
                m.workplace = "浮山县第二中学" if town or r.random() < 0.4 else f"{township}初级中学"
            else:
                m.workplace = "浮山中学" if r.random() < 0.75 else "浮山县职业中学"
        elif 20 <= age <= 60 and not m.workplace:
            x = r.random()
            for tag, town_share, rural_share, places in OCCUPATIONS:
                share = town_share if town else rural_share
                if tag == PersonTag.TRUCK_DRIVER and m.sex != Sex.MALE:
                    share = 0.0
                if x < share:
                    tags.append(tag)
                    m.workplace = r.choice(places).format(township=township, village=village)
                    break
                x -= share
            else:
                if m.residence_kind == ResidenceKind.TEMPORARY and r.random() < 0.5:
                    tags.append(PersonTag.MIGRANT_WORKER)
                    m.workplace = r.choice(DORM_WORK + ["个体经营"])
                elif town and r.random() < 0.6:
                    m.workplace = r.choice(TOWN_WORK)
                elif not town and r.random() < 0.7:
                    m.workplace = r.choice(RURAL_WORK)
        elif 61 <= age <= 70 and not town and r.random() < 0.5:
            m.workplace = "务农"
        # Vulnerable groups.
        if age >= 70 and alone and r.random() < 0.85:
            tags.append(PersonTag.ELDERLY_ALONE)
        if age >= 80 and r.random() < 0.08:
            tags.append(PersonTag.BEDRIDDEN)
        if r.random() < (0.012 if age < 60 else 0.045):
            tags.append(PersonTag.DISABLED)
        if m.sex == Sex.FEMALE and 22 <= age <= 38 and r.random() < 0.03:
            tags.append(PersonTag.PREGNANT)
        if age >= 40 and r.random() < (0.005 if age < 65 else 0.02):
            tags.append(PersonTag.SERIOUSLY_ILL)

    def vaccinate(self, m: Member) -> None:
        r = self.rng
        age = m.age
        if age < 3:
            return
        if age <= 11:
            coverage, booster, first = 0.85, 0.0, (dt.date(2021, 10, 25), 60)
        elif age <= 17:
            coverage, booster, first = 0.93, 0.0, (dt.date(2021, 7, 20), 70)
        elif age <= 59:
            coverage, booster, first = 0.94, 0.78, (dt.date(2021, 3, 20), 160)
        elif age <= 79:
            coverage, booster, first = 0.86, 0.55, (dt.date(2021, 4, 1), 180)
        else:
            coverage, booster, first = 0.5, 0.3, (dt.date(2021, 5, 1), 200)
        if PersonTag.SERIOUSLY_ILL in m.tags or PersonTag.PREGNANT in m.tags:
            coverage *= 0.5
        if r.random() >= coverage:
            return
        product, _, primary = VACCINES[bisect.bisect_right(self._vaccine_cum, r.random() * self._vaccine_cum[-1])]
        day = first[0] + dt.timedelta(days=r.randrange(first[1]))
        doses = [day]
        if r.random() < 0.96:  # a few stop after one dose
            for _ in range(primary - 1):
                day = day + dt.timedelta(days=r.randint(21, 56) if primary == 2 else r.randint(28, 45))
                doses.append(day)
            if primary == 2 and r.random() < booster:
                day = day + dt.timedelta(days=r.randint(180, 240))
                doses.append(day)
        for number, given in enumerate(doses, start=1):
            if given >= REFERENCE_DATE:
                break
            m.doses.append((number, given, product))

    # --- the tree --------------------------------------------------------------------------------------------

    @staticmethod
    def _step(position: int) -> str:
        alphabet, steplen = Area.alphabet, Area.steplen
        digits = ""
        while position:
            position, rem = divmod(position, len(alphabet))
            digits = alphabet[rem] + digits
        return digits.rjust(steplen, alphabet[0])

    def _place(self, parent_path: str, parent_depth: int, nodes: list[Node]) -> None:
        """Give the nodes (and their subtrees) treebeard paths under the parent, siblings in code order."""
        nodes.sort(key=lambda n: n.code)
        for position, node in enumerate(nodes, start=1):
            node.path = parent_path + self._step(position)
            node.depth = parent_depth + 1
            self._place(node.path, node.depth, node.children)

    @staticmethod
    def _flatten(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        stack = list(reversed(nodes))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    @staticmethod
    def _write_nodes(nodes: list[Node]) -> None:
        rows = [Area(code=n.code, name=n.name, level=n.level, grid_kind=n.grid_kind, address=n.address,
                     is_synthetic_code=n.synthetic, path=n.path, depth=n.depth, numchild=len(n.children),
                     shape=n.shape, centre=n.centre)
                for n in nodes]
        Area.objects.bulk_create(rows, batch_size=BATCH)
        for node, row in zip(nodes, rows, strict=True):
            node.pk = row.pk

    def build_tree(self, county: Area) -> tuple[list[Node], list[Node], list[Node], dict]:
        """Townships, villages and communities, and their grids; compounds come later, grid by grid."""
        r = self.rng
        townships: list[Node] = []
        rural_grids: list[Node] = []
        community_grids: list[Node] = []
        special: dict[str, Node] = {}
        for index, (name, villages) in enumerate(TOWNSHIPS):
            code = f"{COUNTY_CODE}{100 + index}"
            township = Node(code, name, AreaLevel.TOWNSHIP, synthetic=True, address=f"{COUNTY}{name}")
            townships.append(township)
            if name == TOWN:
                for c, community_name in enumerate(COMMUNITIES, start=1):
                    community = township.add(Node(f"{code}{c:03d}", community_name, AreaLevel.VILLAGE, synthetic=True,
                                                  address=f"{COUNTY}{TOWN}{community_name}"))
                    for g in range(GRIDS_PER_COMMUNITY):
                        community_grids.append(community.add(Node(
                            f"{community.code}{g + 1:03d}", f"{community_name}{GRID_ORDINALS[g]}网格", AreaLevel.GRID,
                            grid_kind=GridKind.COMMUNITY, synthetic=True, address=community.address)))
                for s, grid_name in enumerate(SPECIAL_GRIDS, start=1):
                    special[grid_name] = township.add(Node(
                        f"{code}S{s:02d}", f"{grid_name}专属网格", AreaLevel.GRID, grid_kind=GridKind.SPECIAL,
                        synthetic=True, address=f"{COUNTY}{TOWN}"))
                continue
            names: list[str] = []
            seen: set[str] = set()
            while len(names) < villages:
                candidate = r.choice(VILLAGE_HEADS) + r.choice(VILLAGE_TAILS)
                if candidate not in seen and len(candidate) >= 2:
                    seen.add(candidate)
                    names.append(candidate)
            for v, village_name in enumerate(names, start=1):
                village = township.add(Node(f"{code}{200 + v:03d}", village_name, AreaLevel.VILLAGE, synthetic=True,
                                            address=f"{COUNTY}{name}{village_name}"))
                rural_grids.append(village.add(Node(
                    f"{village.code}001", f"{village_name}网格", AreaLevel.GRID, grid_kind=GridKind.RURAL,
                    synthetic=True, address=village.address)))
        self._place(county.path, county.depth, townships)
        shape, centre = self.shapes.county(county.code)
        self.shapes.tree(county.code, townships)
        self._write_nodes(self._flatten(townships))
        Area.objects.filter(pk=county.pk).update(numchild=county.numchild + len(townships), shape=shape, centre=centre)
        s = self.summary
        s.townships = len(townships)
        s.villages = len(rural_grids)
        s.communities = len(COMMUNITIES)
        s.grids = {GridKind.RURAL.value: len(rural_grids), GridKind.COMMUNITY.value: len(community_grids),
                   GridKind.SPECIAL.value: len(special)}
        return townships, rural_grids, community_grids, special

    def _split(self, total: int, weights: list[float]) -> list[int]:
        """Split total into integer parts proportional to weights (largest remainder), each at least 1."""
        scale = sum(weights)
        raw = [total * w / scale for w in weights]
        parts = [max(1, int(x)) for x in raw]
        order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
        i = 0
        while sum(parts) < total:
            parts[order[i % len(order)]] += 1
            i += 1
        i = 0
        while sum(parts) > total:
            j = order[-1 - i % len(order)]
            if parts[j] > 1:
                parts[j] -= 1
            i += 1
        return parts

    def families_for(self, target: int, *, town: bool) -> list[list[Member]]:
        """Households until exactly target people; the last one is trimmed to fit."""
        out: list[list[Member]] = []
        count = 0
        while count < target:
            members = self.family(town=town)[: target - count]
            out.append(members)
            count += len(members)
        return out

    # --- writing ---------------------------------------------------------------------------------------------

    def queue(self, plan: HouseholdPlan) -> None:
        self._households.append(plan)
        self._pending_people += len(plan.members)
        if self._pending_people >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the queued households and their people, tags and doses (explicit ids, one executemany each)."""
        plans, self._households, self._pending_people = self._households, [], 0
        if not plans:
            return
        ops = connection.ops
        now = self._now
        date = ops.adapt_datefield_value
        household_rows = [(now, now, p.room, p.address, "", p.area.pk) for p in plans if p.room]
        household_id = self._household_rows.insert(household_rows)
        person_rows, tag_rows, dose_rows = [], [], []
        person_id = self._person_rows.next_id
        for plan in plans:
            this_household = None
            if plan.room:
                this_household, household_id = household_id, household_id + 1
            for m in plan.members:
                person_rows.append((now, now, m.name, m.id_type, m.id_number, m.sex, date(m.birth), m.mobile,
                                    m.relation, m.residence_kind, plan.address, m.workplace, m.notes, plan.area.pk,
                                    this_household))
                tag_rows.extend((t, person_id) for t in m.tags)
                dose_rows.extend((now, now, n, date(d), product, person_id) for n, d, product in m.doses)
                person_id += 1
        self._person_rows.insert(person_rows)
        self._tag_rows.insert(tag_rows)
        self._dose_rows.insert(dose_rows)
        self.summary.households += len(household_rows)
        self.summary.people += len(person_rows)

    # --- grids -----------------------------------------------------------------------------------------------

    def worker(self, area: Node, role: str, residents: list[Member] | None = None) -> None:
        """A grid worker: a resident adult of the area when there is one, else someone from elsewhere."""
        r = self.rng
        pool = [m for m in residents or [] if 25 <= m.age <= 60 and m.mobile]
        if pool:
            m = r.choice(pool)
            name, mobile = m.name, m.mobile
        else:
            sex = r.choice((Sex.MALE, Sex.FEMALE))
            name, mobile = self.surname() + self.given_name(sex, 40), self.mobile()
        self._workers.append(GridWorker(area_id=area.pk, name=name, mobile=mobile, role=role))

    def rural_grid(self, township: Node, village: Node, grid: Node, target: int) -> None:
        r = self.rng
        short = village.name
        door = 0
        residents: list[Member] = []
        for members in self.families_for(target, town=False):
            self.complete(members, town=False, township=township.name, village=short, renters=False)
            door += r.choice((1, 1, 1, 2, 3))
            room = f"{short}{door}号"
            self.queue(HouseholdPlan(members, grid, room, f"{COUNTY}{township.name}{room}"))
            residents.extend(members)
        self.worker(grid, GridWorkerRole.GRID_WORKER, residents)

    def community_grid(self, township: Node, community: Node, grid: Node, target: int,
                       duplicates: bool = False) -> None:
        r = self.rng
        if duplicates:
            target -= DUPLICATES
        families = self.families_for(target, town=True)
        renters = [r.random() < 0.08 for _ in families]
        for members, renting in zip(families, renters, strict=True):
            self.complete(members, town=True, township=township.name, village=community.name, renters=renting)
        # Dwellings: compounds of walk-ups or high-rises with enough rooms at ~85% occupancy.
        needed = math.ceil(len(families) / 0.85)
        rooms: list[tuple[Node, str, str]] = []  # (unit, room label, address)
        buildings: list[tuple[Node, list[Member]]] = []
        while len(rooms) < needed:
            index = self.summary.compounds
            self.summary.compounds += 1
            name = self.compound_name(index)
            street = f"{r.choice(STREETS)}{r.randint(1, 180)}号"
            compound = grid.add(Node(f"{grid.code}-C{len(grid.children) + 1:03d}", name, AreaLevel.COMPOUND,
                                     address=f"{COUNTY}{TOWN}{street}"))
            high_rise = r.random() < 0.3
            units_per = r.randint(1, 2) if high_rise else r.randint(2, 4)
            floors = r.choice((11, 15, 18)) if high_rise else r.choice((5, 6, 6))
            per_building = units_per * floors * 2
            count = min(r.randint(2, 12), max(1, math.ceil((needed - len(rooms)) / per_building)))
            for b in range(1, count + 1):
                building = compound.add(Node(f"{compound.code}-B{b:02d}", f"{b}号楼", AreaLevel.BUILDING))
                buildings.append((building, []))
                self.summary.buildings += 1
                for u in range(1, units_per + 1):
                    unit = building.add(Node(f"{building.code}-U{u}", f"{u}单元", AreaLevel.UNIT))
                    self.summary.units += 1
                    for floor in range(1, floors + 1):
                        for door in (1, 2):
                            label = f"{b}-{u}-{floor}{door:02d}"
                            rooms.append((unit, label, f"{COUNTY}{TOWN}{name}{b}号楼{u}单元{floor}{door:02d}室"))
        # Write this grid's subtree, then its households.
        self._place(grid.path, grid.depth, grid.children)
        self.shapes.grid_children(grid)
        self._write_nodes(self._flatten(grid.children))
        Area.objects.filter(pk=grid.pk).update(numchild=len(grid.children))
        chosen = sorted(r.sample(range(len(rooms)), len(families)))
        by_unit: dict[str, list[Member]] = {}
        residents: list[Member] = []
        for members, slot in zip(families, chosen, strict=True):
            unit, label, address = rooms[slot]
            self.queue(HouseholdPlan(members, unit, label, address))
            by_unit.setdefault(unit.code[: unit.code.rindex("-U")], []).extend(members)
            residents.extend(members)
        if duplicates:
            self.plant_duplicates(families, rooms, chosen)
        self.worker(grid, GridWorkerRole.FULL_TIME, residents)
        for building, _ in buildings:
            people = by_unit.get(building.code, [])
            if people and r.random() < 0.4:
                self.worker(building, GridWorkerRole.BUILDING_HEAD, people)

    def plant_duplicates(self, families: list[list[Member]], rooms, chosen: list[int]) -> None:
        """Three likely duplicates: same name and mobile, another document (passport, old code, typo'd date)."""
        r = self.rng
        candidates = [(m, rooms[slot]) for members, slot in zip(families, chosen, strict=True) for m in members
                      if m.mobile and 20 <= m.age <= 70 and m.id_type == IdType.RESIDENT_ID]
        old = [c for c in candidates if c[0].id_number.startswith(OLD_COUNTY_CODE)]
        picks: list[tuple[Member, tuple]] = []
        for pool in (candidates, old or candidates, candidates):
            options = [c for c in pool if all(c[0] is not p[0] for p in picks)]
            picks.append(r.choice(options))
        for kind, (original, (unit, _label, address)) in zip(("passport", "code", "typo"), picks, strict=True):
            copy = Member(relation="", sex=original.sex, age=original.age, surname=original.surname,
                          name=original.name, birth=original.birth, mobile=original.mobile,
                          workplace=original.workplace, residence_kind=original.residence_kind)
            if kind == "passport":
                copy.id_type = IdType.PASSPORT
                copy.id_number = self.passport()
                copy.notes = "卡口登记，出示护照"
            elif kind == "code":
                number = original.id_number
                code = COUNTY_CODE if number.startswith(OLD_COUNTY_CODE) else OLD_COUNTY_CODE
                if code == OLD_COUNTY_CODE and original.birth.year >= 2000:
                    code = NEIGHBOUR_CODES_NEW[0]
                copy.id_number = self._unique_variant(code, original.birth, int(number[14:17]), original.sex)
                copy.notes = "核酸采样点登记"
            else:
                birth = original.birth + dt.timedelta(days=1 if original.birth.day < 28 else -1)
                copy.birth = birth
                copy.id_number = self._unique_variant(original.id_number[:6], birth, int(original.id_number[14:17]),
                                                      original.sex)
                copy.notes = "社区补录"
            self.queue(HouseholdPlan([copy], unit, "", address))

    def _unique_variant(self, code: str, birth: dt.date, seq: int, sex: str) -> str:
        key = f"{code}{birth:%Y%m%d}{seq:03d}"
        if key in self._used_ids:
            return self.resident_id(code, birth, sex)
        self._used_ids.add(key)
        return make_resident_id(code, birth, seq)

    def dorm_grid(self, grid: Node, target: int) -> None:
        r = self.rng
        rooms: list[list[Member]] = []
        count = 0
        while count < target:
            members = self.dorm_room()[: target - count]
            rooms.append(members)
            count += len(members)
        for members in rooms:
            self.complete(members, town=True, township=TOWN, village="", renters=False)
        per_building = 5 * 12
        blocks = max(1, math.ceil(len(rooms) / per_building))
        for b in range(1, blocks + 1):
            grid.add(Node(f"{grid.code}-B{b:02d}", f"{b}号宿舍楼", AreaLevel.BUILDING,
                          address=f"{COUNTY}{TOWN}工业园区"))
        self.summary.buildings += blocks
        self._place(grid.path, grid.depth, grid.children)
        self.shapes.grid_children(grid)
        self._write_nodes(grid.children)
        Area.objects.filter(pk=grid.pk).update(numchild=len(grid.children))
        slots = sorted(r.sample(range(blocks * per_building), len(rooms)))
        for members, slot in zip(rooms, slots, strict=True):
            block, rest = divmod(slot, per_building)
            floor, door = divmod(rest, 12)
            building = grid.children[block]
            label = f"宿舍{block + 1}-{floor + 1}{door + 1:02d}"
            self.queue(HouseholdPlan(members, building, label, f"{COUNTY}{TOWN}工业园区{block + 1}号宿舍楼{floor + 1}"
                                                                  f"{door + 1:02d}室"))

    # --- the whole county ------------------------------------------------------------------------------------

    def run(self) -> Summary:
        started = time.monotonic()
        r = self.rng
        with transaction.atomic():
            county = area_ensure_gb2260_chain(COUNTY_CODE)
            self._open_writers()
            townships, rural_grids, community_grids, special = self.build_tree(county)
            self.log("区划和网格已建好")
            dorm = round(self.people * DORM_SHARE)
            town = round(self.people * TOWN_SHARE)
            rural = self.people - dorm - town
            town_parts = self._split(town, [r.uniform(0.6, 1.4) for _ in community_grids])
            rural_parts = self._split(rural, [r.uniform(0.4, 1.6) for _ in rural_grids])
            town_node = townships[0]
            for index, (grid, target) in enumerate(zip(community_grids, town_parts, strict=True)):
                community = next(c for c in town_node.children if grid.code.startswith(c.code)
                                 and c.level == AreaLevel.VILLAGE)
                self.community_grid(town_node, community, grid, target, duplicates=index == 0)
            self.log(f"县城 {town} 人已生成")
            by_code = {t.code: t for t in townships}
            for grid, target in zip(rural_grids, rural_parts, strict=True):
                township = by_code[grid.code[:9]]
                village = next(v for v in township.children if v.code == grid.code[:12])
                self.rural_grid(township, village, grid, target)
            self.log(f"农村 {rural} 人已生成")
            self.dorm_grid(special[DORM_GRID], dorm)
            self.flush()
            reset_sequences([Household, Person, PersonTagging, VaccinationDose])
            # Grid officers at township level, assistants in the special grids and the busiest community grids.
            for township, officers in zip(townships, OFFICERS, strict=True):
                for _ in range(officers):
                    self.worker(township, GridWorkerRole.GRID_OFFICER)
            for name in SPECIAL_GRIDS:
                self.worker(special[name], GridWorkerRole.ASSISTANT)
            busiest = sorted(range(len(community_grids)), key=lambda i: -town_parts[i])
            for i in sorted(busiest[:ASSISTANTS_IN_COMMUNITY_GRIDS]):
                self.worker(community_grids[i], GridWorkerRole.ASSISTANT)
            GridWorker.objects.bulk_create(self._workers, batch_size=BATCH)
            self.summary.grid_workers = len(self._workers)
            self.create_users(county, town_node, community_grids[0])
            if self.venues:
                from shouwang.demo.venues import VenueGenerator

                venues = VenueGenerator(seed=self.seed, county_path=county.path).run()
                self.summary.venues, self.summary.scans = venues.venues, venues.scans
                self.log(f"场所 {venues.venues} 个，扫码 {venues.scans} 次")
            if self.testing:
                from shouwang.demo.testing import TestingGenerator

                testing = TestingGenerator(seed=self.seed, county_path=county.path, log=self.log).run()
                s = self.summary
                s.rounds, s.sites, s.tubes, s.samples = testing.rounds, testing.sites, testing.tubes, testing.samples
                self.log(f"检测轮次 {testing.rounds} 个，采样点 {testing.sites} 个，采样管 {testing.tubes} 支")
                from shouwang.demo.quarantine import QuarantineGenerator
                from shouwang.demo.zones import ZonedTracing, ZoneGenerator

                quarantine = QuarantineGenerator(seed=self.seed, log=self.log)
                quarantine.setup()  # the sites, before the outbreak moves anyone
                zones = ZoneGenerator(seed=self.seed, log=self.log)
                zones.setup()  # HQ's zone decisions, taken in time between the case reports
                tracing = ZonedTracing(seed=self.seed, county_path=county.path, log=self.log,
                                       quarantine=quarantine, zones=zones).run()
                self.summary.cases, self.summary.contacts = tracing.cases, tracing.contacts
                measures = quarantine.daily_life()
                s.quarantine_sites, s.in_sites, s.at_home = measures.sites, measures.in_sites, measures.at_home
                s.zones = zones.finish().zones  # the decisions left, the demo day's statuses
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def create_users(self, county: Area, town: Node, grid: Node) -> None:
        areas = {
            "county": county,
            "town": Area.objects.get(pk=town.pk),
            "community": Area.objects.get(pk=town.children[0].pk),
            "grid": Area.objects.get(pk=grid.pk),
            "checkpoint": Area.objects.get(code=f"{COUNTY_CODE}101"),
        }
        for username, role, where, display_name in DEMO_USERS:
            user = user_create(username=username, password=DEMO_PASSWORD, role=role, jurisdiction=areas[where],
                               display_name=display_name)
            if role == Role.GRID_WORKER:
                # The grid user is its grid's full-time worker.
                post = GridWorker.objects.filter(area=areas[where], role=GridWorkerRole.FULL_TIME).first()
                post.user, post.name, post.mobile = user, display_name, self.mobile()
                post.save(update_fields=["user", "name", "mobile"])
                user.mobile = post.mobile
                user.save(update_fields=["mobile"])
        self.summary.users = len(DEMO_USERS)


def generate_county(*, seed: int = 1, people: int = DEFAULT_PEOPLE, log: Callable[[str], None] | None = None,
                    venues: bool = True, testing: bool | None = None) -> Summary:
    """Build the demo county into an empty database; raise RuntimeError if any area exists already.

    venues=False leaves out the venues, status facts and scans (shouwang.demo.venues): the scan log is
    append-only, so a county with scans can never be wiped again. testing (by default as venues) adds the mass
    testing (shouwang.demo.testing); its sites and rounds are in the append-only audit log, which keeps their
    creator's account from being deleted."""
    if Area.objects.exists():
        raise RuntimeError("area tree is not empty")
    generator = CountyGenerator(seed=seed, people=people, log=log, venues=venues, testing=testing)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            (cache_size,) = cursor.fetchone()
            cursor.execute("PRAGMA cache_size=-524288")  # 512 MB while the indexes grow
        try:
            return generator.run()
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size={int(cache_size)}")
    return generator.run()


def demo_users() -> list[User]:
    names = [u[0] for u in DEMO_USERS]
    found = {u.username: u for u in User.objects.filter(username__in=names).select_related("jurisdiction")}
    return [found[n] for n in names if n in found]
