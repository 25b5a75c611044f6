"""The tower company's routes and pages, on top of the generic ones: the demand API (spreadsheets,
entry, submission into Flow 1, progress, batch steps), the difficult-site library, contracts, and the pages:
demands, the operator's change / cancel / batch acceptance, the library, contracts and
service requests. They call the business package ``tower``; ``web.api`` and ``web.ui`` register
them by these names, next to their own."""

API_MODULES = ("web.tower.demands_api", "web.tower.demand_flow_api", "web.tower.difficult_sites_api",
               "web.tower.contracts_api")
PAGE_MODULES = ("web.tower.demands_page", "web.tower.demand_changes_page", "web.tower.library_page",
                "web.tower.contracts_page", "web.tower.service_requests_page")
