"""Handlers for /companies: lookup by name or company_id, page-number listing, scroll, by id.

See companies.py for the behaviour they reproduce (users-only listing in a moving order,
the 10,000 cap, one expiring scroll per workspace).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.intercom import render
from devtools.sandboxes.intercom.companies import CompanyError, listed
from devtools.sandboxes.intercom.records import Company
from devtools.sandboxes.intercom.store import Store
from devtools.sandboxes.kit.paging import PageLimitReached, number_page
from devtools.sandboxes.kit.params import int_arg
from devtools.sandboxes.kit.responses import ApiError

COMPANY_MAX_PER_PAGE = 60
COMPANY_DEFAULT_PER_PAGE = 15


def _page(store: Store, companies: list[Company], request: Request) -> dict[str, Any]:
    page = int_arg(request, "page", 1)
    per_page = min(int_arg(request, "per_page", COMPANY_DEFAULT_PER_PAGE), COMPANY_MAX_PER_PAGE)
    try:
        chosen = number_page(companies, page, per_page, cap=store.company_list_cap)
    except PageLimitReached as exc:
        # Intercom's words for its 10,000 cap
        raise ApiError(400, "bad_request", "page limit reached, please use scroll API") from exc
    return {"type": "list", "data": [render.company(c) for c in chosen.items], "total_count": chosen.total,
            "pages": render.number_pages(chosen)}


def _found(company: Company) -> dict[str, Any]:
    """A lookup answers a company_list holding the one company (the 2.14 response schema)."""
    return {"type": "list", "data": [render.company(company)], "total_count": 1,
            "pages": {"type": "pages", "page": 1, "per_page": COMPANY_DEFAULT_PER_PAGE, "total_pages": 1,
                      "next": None}}


def retrieve_companies(store: Store, request: Request) -> dict[str, Any]:
    """GET /companies: one company for ?name= or ?company_id=, else a page of those with users."""
    name, external = request.args.get("name"), request.args.get("company_id")
    if name is not None or external is not None:
        found = (store.companies_by_name.get(name.lower()) if name is not None
                 else store.companies_by_external.get(external or ""))
        if found is None:
            raise ApiError(404, "company_not_found", "Company Not Found")
        return _found(found)
    if request.args.get("segment_id"):
        return _page(store, [], request)  # no company segments in the sandbox
    tag_id = request.args.get("tag_id") or None
    companies = store.companies_listed() if tag_id is None else listed(store.data.companies, tag_id)
    return _page(store, companies, request)


def list_companies(store: Store, request: Request) -> dict[str, Any]:
    """POST /companies/list: companies with users by last_request_at (default desc, ?order=asc)."""
    order = request.args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "parameter_invalid", "order must be asc or desc")
    companies = store.companies_listed()
    return _page(store, companies[::-1] if order == "asc" else companies, request)


def scroll_companies(store: Store, request: Request) -> dict[str, Any]:
    """GET /companies/scroll: every company, from a snapshot, `SCROLL_PAGE_SIZE` at a time."""
    try:
        ids, param = store.scrolls.next_page(request.args.get("scroll_param") or None, store.company_ids)
    except CompanyError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    data = [render.company(store.companies[i]) for i in ids if i in store.companies]
    return {"type": "list", "data": data, "pages": None, "total_count": None, "scroll_param": param}


def get_company(store: Store, request: Request, company_id: str) -> dict[str, Any]:
    company = store.companies.get(company_id)
    if company is None:
        raise ApiError(404, "company_not_found", "Company Not Found")
    return render.company(company)


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/companies", retrieve_companies),
    ("POST", "/companies/list", list_companies),
    ("GET", "/companies/scroll", scroll_companies),
    ("GET", "/companies/<company_id>", get_company),
)
