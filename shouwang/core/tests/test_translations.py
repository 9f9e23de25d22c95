"""Every string a page shows in Chinese has an English translation."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"
TRANSLATE_TAG = re.compile(r"""{%\s*translate\s+(["'])(.+?)\1""")


def _catalogue() -> dict[str, str]:
    entries: dict[str, str] = {}
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        assert "#, fuzzy" not in block, f"fuzzy entry left in the catalogue: {block[:120]}"
        msgid = re.search(r'^msgid "(.*)"$', block, re.M)
        msgstr = re.search(r'^msgstr(?:\[0\])? "(.*)"$', block, re.M)
        if msgid and msgid.group(1):
            entries[msgid.group(1)] = msgstr.group(1) if msgstr else ""
    return entries


def test_catalogue_has_no_empty_translation():
    empty = [k for k, v in _catalogue().items() if not v]
    assert empty == []


def test_every_translate_tag_in_the_templates_is_in_the_catalogue():
    catalogue = _catalogue()
    missing = sorted({
        m.group(2)
        for path in ROOT.glob("*/templates/**/*.html")
        for m in TRANSLATE_TAG.finditer(path.read_text(encoding="utf-8"))
        if m.group(2) not in catalogue
    })
    assert missing == []
