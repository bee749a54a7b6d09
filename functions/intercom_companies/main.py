"""GET /intercom-companies: companies by name prefix (store or live=true); GET /{id}: one."""

from __future__ import annotations

from shared.api import Call, Deployment, Endpoint, Users
from shared.intercom_api.models import Company, CompanyPage, CompanyQuery

#: live calls to Intercom need its access token (Secret Manager, mounted as an env var)
INTERCOM = Deployment()
endpoint = Endpoint("intercom-companies", summary="Intercom companies", tags=("intercom",), deployment=INTERCOM)


@endpoint.route("GET", "/", auth=Users(), query=CompanyQuery, response=CompanyPage)
def list_companies(call: Call) -> CompanyPage:
    """By name, A to Z; name is a case-insensitive prefix (live=true: Intercom's exact name)."""
    query: CompanyQuery = call.query
    if query.live:
        from shared.intercom_api import live

        return live.list_companies(query)
    from shared.intercom_api import queries
    from shared.store.client import db

    return queries.list_companies(db(call.settings), query)


@endpoint.route("GET", "/{company_id}", auth=Users(), response=Company)
def get_company(call: Call) -> Company:
    """One stored company."""
    from shared.intercom_api import queries
    from shared.store.client import db

    return Company.model_validate(queries.get_record(db(call.settings), "companies", call.path["company_id"]))


handle = endpoint.entry_point()
