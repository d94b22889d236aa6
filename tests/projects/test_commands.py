from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from projects import keys

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_only_the_key(project):
    out = StringIO()
    call_command("create_api_key", project=project.slug, environment="staging", kind="secret", stdout=out)
    raw = out.getvalue().strip()
    assert out.getvalue() == raw + "\n"
    info = keys.authenticate_key(raw)
    assert (info.project_id, info.environment_slug, info.kind) == (project.id, "staging", "secret")


def test_create_api_key_names_what_is_wrong(project):
    with pytest.raises(CommandError, match="has no environment 'prod' \\(it has: production, staging\\)"):
        call_command("create_api_key", project=project.slug, environment="prod", kind="write")
    with pytest.raises(CommandError, match="No project with slug 'nope'"):
        call_command("create_api_key", project="nope", environment="production", kind="write")
