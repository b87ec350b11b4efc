import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from rightsdesk.core.process import collect_young_less_often, freeze_what_startup_made

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightsdesk.settings")
application = get_wsgi_application()
# Django imports the URLconf, and with it every view and serializer, on the first request:
# import it now, so that it is frozen with the rest of what the process keeps.
import_module(settings.ROOT_URLCONF)
freeze_what_startup_made()
collect_young_less_often()
