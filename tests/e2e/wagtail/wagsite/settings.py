"""A small Wagtail site: pages served by Wagtail with an hour's public lifetime, their cache
group named (RFC 9875 Cache-Groups, through rulecache_django), and Wagtail's frontend cache
purging them through rulecache_wagtail on publish. State (the SQLite database) lives in
$E2E_WAGTAIL_STATE. The edge's address and purge secret come from the environment of the
process that publishes (RULECACHE_URL, RULECACHE_PURGE_SECRET)."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
STATE = Path(os.environ.get("E2E_WAGTAIL_STATE", BASE_DIR.parent / "state"))

SECRET_KEY = "e2e-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
WAGTAIL_SITE_NAME = "rulecache e2e"
WAGTAILADMIN_BASE_URL = "http://localhost"

INSTALLED_APPS = [
    "wagsite",
    "wagtail.contrib.frontend_cache",
    "wagtail.sites",
    "wagtail",
    "modelcluster",
    "taggit",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "wagsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": STATE / "db.sqlite3"}}
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True

WAGTAILFRONTENDCACHE = (
    {
        "rulecache": {
            "BACKEND": "rulecache_wagtail.RulecacheBackend",
            "LOCATION": os.environ["RULECACHE_URL"],
            "PURGE_SECRET": os.environ["RULECACHE_PURGE_SECRET"],
        }
    }
    if os.environ.get("RULECACHE_URL")
    else {}
)

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wagtail.frontendcache": {"handlers": ["console"], "level": "INFO"}},
}
