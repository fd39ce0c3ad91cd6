from django.apps import AppConfig


class E2ESiteConfig(AppConfig):
    name = "e2esite"

    def ready(self):
        from . import purging  # noqa: F401 - connects the save handler
