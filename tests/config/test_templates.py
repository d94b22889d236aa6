"""Template hygiene that Django does not check itself."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_no_template_has_a_multi_line_short_comment():
    """`{# ... #}` ends on its own line; spread over two lines it is printed on the page as text."""
    broken = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "{#" in line and "#}" not in line.split("{#", 1)[1]
    ]
    assert broken == [], "use {% comment %} for comments over several lines"
