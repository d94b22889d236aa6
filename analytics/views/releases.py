"""Release verification pages (stub: being written)."""

from django.http import Http404


def release_list(request, slug):
    raise Http404


def release_page(request, slug, release_id):
    raise Http404


def release_check(request, slug, release_id):
    raise Http404


def release_go_live(request, slug, release_id):
    raise Http404
