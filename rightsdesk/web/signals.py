"""A message after logging in and out, like after every other action on the pages.
Django's login view and logout view add none of their own."""

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.utils.translation import gettext as _


@receiver(user_logged_in, dispatch_uid="web.logged_in_message")
def logged_in_message(sender, request, user, **kwargs) -> None:
    # fail_silently: a login without the message middleware (the test client's, a script's)
    # has nowhere to put it and needs none.
    if request is not None:
        messages.success(
            request,
            _("You are logged in as %(email)s.") % {"email": user.email},
            fail_silently=True,
        )


@receiver(user_logged_out, dispatch_uid="web.logged_out_message")
def logged_out_message(sender, request, user, **kwargs) -> None:
    # Sent before the session is flushed; the message travels in a cookie, so it survives.
    if request is not None:
        messages.info(request, _("You are logged out."), fail_silently=True)
