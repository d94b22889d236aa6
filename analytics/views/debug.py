"""Debug sessions (stub: being written)."""

from django.http import Http404


def sessions(request, slug):
    raise Http404


def session_page(request, slug, session_id):
    raise Http404
