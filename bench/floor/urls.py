"""The application's routes and ``POST /bench/floor/``: the least a render submission could
cost on this stack, for bench/api_load.py to drive beside the health check.

It is a submission with nothing computed: the same framework (DRF, the application's token
authentication, a JSON body in and a 201 JSON answer out), and the same shape and number
of SQL statements (the token's read, three reads, then four statements between BEGIN and
COMMIT), each a trivial ``SELECT`` through ``rightsdesk.core.rawsql``. No gate, ledger,
audit or queue. What a submission costs above it is the product's own work."""

from django.db import transaction
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.core import rawsql
from rightsdesk.urls import urlpatterns as application

READS, WRITES = 3, 4  # a submission's, besides the token's read, BEGIN and COMMIT
STATEMENT = "SELECT %s::int, %s::text"


class FloorApi(APIView):
    def post(self, request: Request) -> Response:
        brief = str(request.data.get("brief", ""))
        for n in range(READS):
            rawsql.fetch(STATEMENT, [n, brief])
        with transaction.atomic():
            for n in range(WRITES):
                rawsql.fetch(STATEMENT, [n, brief])
        return Response({**request.data, "status": "queued"}, status=201)


urlpatterns = [*application, path("bench/floor/", FloorApi.as_view())]
