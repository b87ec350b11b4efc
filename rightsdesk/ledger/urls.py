from django.urls import path

from rightsdesk.ledger import apis

urlpatterns: list = [
    path("ledger/statement/", apis.LedgerStatementApi.as_view(), name="ledger-statement"),
]
