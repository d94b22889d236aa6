"""Print (or write) the typed SDK wrappers of a project's tracking plan, e.g. in CI:

manage.py plan_codegen shop --lang typescript --output src/beacon-plan.ts
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.plan import codegen
from projects.models import Project


class Command(BaseCommand):
    help = "Generate typed TypeScript or Python wrappers (one function per event) from a project's tracking plan."

    def add_arguments(self, parser):
        parser.add_argument("project", help="The project's slug.")
        parser.add_argument("--lang", required=True, choices=codegen.LANGUAGES)
        parser.add_argument("--output", help="Write the module to this file (default: standard output).")

    def handle(self, *args, project: str, lang: str, output: str | None, **options):
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"No project with the slug {project!r}.")
        module = codegen.generate(found, lang)
        if output is None:
            self.stdout.write(module, ending="")
            return
        path = Path(output)
        try:
            path.write_text(module, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.") from None
        self.stderr.write(
            f"Wrote the {lang} wrappers of {found.slug}'s tracking plan v{found.plan_version} to {path}."
        )
