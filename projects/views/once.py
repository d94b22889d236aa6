"""Raw API keys exist only when created; they are shown on the next page view, once.

Creating a key answers with a redirect (so a reload cannot create another one) and the raw keys
wait in the session until that next view of the project's page pops them.
"""

from projects.models import Project

NEW_KEYS_SESSION = "beacon-new-keys"


def remember_new_keys(
    request, project: Project, raw_keys: dict[str, str], *, environment: str = "production"
) -> None:
    request.session[NEW_KEYS_SESSION] = {
        "project_id": project.id,
        "environment": environment,
        "keys": raw_keys,
    }


def pop_new_keys(request, project: Project) -> tuple[dict[str, str], str]:
    """({kind: raw key}, environment slug) of keys just created for this project, then forgotten."""
    stored = request.session.get(NEW_KEYS_SESSION)
    if not stored or stored.get("project_id") != project.id:
        return {}, ""
    del request.session[NEW_KEYS_SESSION]
    return stored["keys"], stored["environment"]
