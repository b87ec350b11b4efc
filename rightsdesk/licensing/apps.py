from django.apps import AppConfig


class LicensingConfig(AppConfig):
    name = "rightsdesk.licensing"
    label = "licensing"
    verbose_name = "Use licences"

    def ready(self) -> None:
        # agreements cannot import licensing (licensing imports it): when an agreement is
        # terminated or expires, its licences are ended through these callbacks.
        from rightsdesk.agreements import hooks
        from rightsdesk.licensing import services

        for hook_list, callback in (
            (hooks.on_agreement_terminated, services.licences_end_for_terminated_agreement),
            (hooks.on_agreement_expired, services.licences_end_for_expired_agreement),
        ):
            if callback not in hook_list:
                hook_list.append(callback)
