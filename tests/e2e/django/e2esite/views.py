import itertools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control, cache_page

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
