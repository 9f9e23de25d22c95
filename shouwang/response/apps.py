from django.apps import AppConfig


class ResponseConfig(AppConfig):
    """Cross-domain flows: what one domain's event sets in motion in another."""

    name = "shouwang.response"
    label = "response"
    verbose_name = "联动处置"

    def ready(self) -> None:
        from shouwang.response import flows

        flows.connect()
