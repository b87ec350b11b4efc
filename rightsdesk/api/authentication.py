"""Token authentication that reads the user's organisation with the token.

Nearly every view scopes what it shows by ``request.user.organization`` (a brand's
requests, an agency's talents), so DRF's token lookup was followed by a second statement
for it on every request; joined here, a submission and a status read each take one
statement fewer (bench/api_load.py).
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user", "user__organization").get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
