"""The live inspector (stub: being written)."""

from django.http import Http404


def inspector(request, slug):
    raise Http404


def poll(request, slug):
    raise Http404


def event_detail(request, slug, entry_id, index):
    raise Http404
