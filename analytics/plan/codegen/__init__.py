"""Typed SDK wrappers generated from a tracking plan (DESIGN.md section 5): a TypeScript module and a
Python module with, per event, a properties type and a function that sends the event.

Both read a normalized snapshot (``analytics.plan.snapshot``) and decide the same way (``shapes``:
names, types, doc lines); ``typescript_module`` and ``python_module`` spell the result out, each with
its runtime. This module picks the generator for a language, and for a project.
"""

from analytics.plan.codegen.python_module import python
from analytics.plan.codegen.shapes import (
    Dialect,
    Field,
    Shape,
    Wrapper,
    clean_lines,
    header_lines,
    words,
    wrappers,
)
from analytics.plan.codegen.typescript_module import typescript
from analytics.plan.snapshot import export_plan

__all__ = [
    "CONTENT_TYPES",
    "GENERATORS",
    "LANGUAGES",
    "Dialect",
    "Field",
    "Shape",
    "Wrapper",
    "clean_lines",
    "filename",
    "generate",
    "header_lines",
    "python",
    "typescript",
    "words",
    "wrappers",
]

LANGUAGES = ("typescript", "python")

GENERATORS = {"typescript": typescript, "python": python}
CONTENT_TYPES = {
    "typescript": "application/typescript; charset=utf-8",
    "python": "text/x-python; charset=utf-8",
}


def generate(project, language: str) -> str:
    """The wrappers of the project's current plan (``Project.plan_version``) in ``language``."""
    return GENERATORS[language](
        export_plan(project.id), project_name=project.name, plan_version=project.plan_version
    )


def filename(project, language: str) -> str:
    """``beacon-<slug>.ts`` / ``beacon_<slug>.py`` (an importable module name: slugs may hold `-`)."""
    if language == "typescript":
        return f"beacon-{project.slug}.ts"
    return f"beacon_{project.slug.replace('-', '_')}.py"
