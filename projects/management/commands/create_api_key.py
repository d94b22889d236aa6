"""Print a new API key, alone on stdout, for scripts and CI:

KEY=$(python manage.py create_api_key --project demo-shop --environment production --kind write)
"""

from django.core.management.base import BaseCommand, CommandError

from projects.actions import do_create_api_key
from projects.models import ApiKeyKind, Environment


class Command(BaseCommand):
    help = "Create an API key for a project environment and print it alone on stdout."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--environment", required=True, help="environment slug, e.g. production")
        parser.add_argument("--kind", required=True, choices=ApiKeyKind.values)
        parser.add_argument("--name", default="created by manage.py create_api_key")

    def handle(self, *args, project: str, environment: str, kind: str, name: str, **options):
        target = (
            Environment.objects.select_related("project")
            .filter(project__slug=project, slug=environment)
            .first()
        )
        if target is None:
            known = Environment.objects.filter(project__slug=project).values_list("slug", flat=True)
            if not known:
                raise CommandError(f"No project with slug {project!r}.")
            raise CommandError(
                f"Project {project!r} has no environment {environment!r} (it has: {', '.join(known)})."
            )
        _, raw = do_create_api_key(environment=target, kind=kind, name=name, acting_user=None)
        self.stdout.write(raw)
