from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, key)


@register.filter
def percent(value) -> str:
    """0.0412 -> 4.1%"""
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return ""


@register.simple_tag
def heat(value, peak) -> str:
    """A cell's share of the busiest cell, 0 to 1, for a CSS heat shade."""
    try:
        return f"{min(float(value) / float(peak), 1.0):.2f}" if peak else "0"
    except (TypeError, ValueError):
        return "0"
