"""Import endpoints (the import service lives in shouwang.people.imports)."""

from ninja import Router

router = Router(tags=["imports 导入"])
