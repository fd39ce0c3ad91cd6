from django.db import models
from django.urls import reverse


class Page(models.Model):
    """A page of text, edited by staff at /pages/<slug>/edit/ (the offload benchmark's site)."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    body = models.TextField()
    updated = models.DateTimeField(auto_now=True)

    def get_absolute_url(self):
        return reverse("page", args=[self.slug])
