"""The tower company's routes and pages, on top of the generic ones: the demand API (spreadsheets,
entry, submission into Flow 1, progress, batch steps), the difficult-site library and the
demands page. They call the business package ``tower``; ``web.api`` and ``web.ui`` register
them by these names, next to their own."""

API_MODULES = ("web.tower.demands_api", "web.tower.demand_flow_api", "web.tower.difficult_sites_api")
PAGE_MODULES = ("web.tower.demands_page",)
