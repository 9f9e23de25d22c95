from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "shouwang.policy"
    verbose_name = "政策版本"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from shouwang.policy.services import policy_sync_after_migrate

        post_migrate.connect(policy_sync_after_migrate, sender=self)
