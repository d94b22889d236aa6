"""The alert pages (DESIGN.md section 8): rules (list, form with its preview, page), channels (list,
form, send test, delivery log) and the alert history (list, one alert event with its comments).

Every view reaches the project through ``access_project``: outsiders get 404, as for a missing row,
and writes need a member (viewers get 404 on POST, as on the dashboards). Writes go through
``alerts.actions``; reads through ``alerts.views.selectors``.
"""
