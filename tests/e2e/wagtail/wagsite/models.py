from django.db import models
from rulecache_django import serialize_groups
from wagtail.models import Page


class ArticlePage(Page):
    """A page with a body: public for an hour at the edge, in the cache group of its id."""

    body = models.TextField(blank=True)

    def serve(self, request, *args, **kwargs):
        response = super().serve(request, *args, **kwargs)
        response["Cache-Control"] = "public, max-age=3600"
        response["Cache-Groups"] = serialize_groups([f"page-{self.pk}"])
        return response
