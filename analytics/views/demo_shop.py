"""The demo shop's page: one HTML page whose script routes list, product, cart and checkout with the
history API (analytics/demo_shop.py says where its key comes from)."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics.demo import PRODUCTS
from analytics.demo_shop import load_config

APP_VERSION = "1.5.0"


@require_GET
def shop(request, route: str = ""):
    config = load_config()
    if config is None:
        raise Http404("The demo shop is not set up: run `manage.py seed_demo` (make run does).")
    products = [{"id": sku, "name": name, "price": price} for sku, name, price in PRODUCTS]
    context = {"config": config, "products": products, "app_version": APP_VERSION}
    return render(request, "demo_shop/shop.html", context)
