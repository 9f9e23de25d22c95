"""Render a translatable label in a fixed language, for the two halves of a bilingual error message."""

from django.utils import translation


def zh(label) -> str:
    with translation.override("zh-hans"):
        return str(label)


def en(label) -> str:
    with translation.override("en"):
        return str(label)
