import itertools
import os
import re
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.views.decorators.cache import cache_control, cache_page
from django.views.decorators.csrf import csrf_exempt
from rulecache_django import cache_groups, invalidates_groups

_renders = itertools.count(1)


@cache_control(max_age=60)
def home(request):
    """Reads request.user (so SessionMiddleware adds Vary: Cookie) and shows any messages."""
    return render(request, "home.html", {"render": next(_renders)})


@cache_page(60)
def cached(request):
    return render(request, "cached.html", {"render": next(_renders)})


@login_required
def private(request):
    return render(request, "private.html", {"render": next(_renders)})


def message(request):
    messages.info(request, "Your message was sent")
    return redirect("home")


# Articles: text files in the state folder, shared by every gunicorn worker.
_ARTICLES = Path(os.environ.get("E2E_DJANGO_STATE", Path(__file__).resolve().parent.parent / "state")) / "articles"


def _article_file(slug):
    if not re.fullmatch(r"[a-z0-9-]{1,40}", slug):
        return None
    return _ARTICLES / f"{slug}.txt"


@cache_groups(lambda request, slug: [f"article-{slug}"])
@cache_control(public=True, max_age=3600)
def article(request, slug):
    """An article, public for an hour, in the cache group `article-<slug>` (RFC 9875)."""
    f = _article_file(slug)
    if f is None:
        return HttpResponseBadRequest("bad slug")
    text = f.read_text() if f.exists() else f"{slug}: first version"
    return HttpResponse(f'<!doctype html><p id="body">{escape(text)}</p>')


@csrf_exempt
@invalidates_groups(lambda request, slug: [f"article-{slug}"])
def edit_article(request, slug):
    """Saves an article (POST text=...): the response invalidates its cache group at the edge
    (Cache-Group-Invalidation), without a purge call."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    f = _article_file(slug)
    if f is None:
        return HttpResponseBadRequest("bad slug")
    _ARTICLES.mkdir(parents=True, exist_ok=True)
    f.write_text(request.POST.get("text", ""))
    return HttpResponse("saved")


@cache_control(max_age=300)
def page_list(request):
    from .models import Page

    pages = Page.objects.order_by("slug").values_list("slug", "title")[:200]
    return render(request, "pages.html", {"pages": pages, "render": next(_renders)})


@cache_control(max_age=300)
def page(request, slug):
    from .models import Page

    return render(request, "page.html", {"page": get_object_or_404(Page, slug=slug), "render": next(_renders)})


@login_required
def page_edit(request, slug):
    """Staff edit a page's text; saving purges the edge (purging.py)."""
    from .models import Page

    if not request.user.is_staff:
        return HttpResponseForbidden("staff only")
    obj = get_object_or_404(Page, slug=slug)
    if request.method == "POST":
        obj.body = request.POST.get("body", obj.body)
        obj.save()
        return redirect(obj.get_absolute_url())
    return render(request, "page_edit.html", {"page": obj})
