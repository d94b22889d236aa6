from django import template

register = template.Library()


@register.filter
def spaced(value) -> str:
    """`missing_required` → `missing required` (violation kinds, changed fields)."""
    return str(value).replace("_", " ")
