"""The demo shop `make run` serves at /demo/shop/: a small store instrumented with beacon.js, so the
demo project's live inspector and reports have real browser traffic to show.

`seed_demo` gives it a write key of the demo project's production environment and writes it to
``DEMO_SHOP_CONFIG`` (a write key is public: it is in every page of the shop anyway). Without that
file the shop is not served.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from projects import keys

CONFIG_FIELDS = ("write_key", "environment", "project")


@dataclass(frozen=True)
class ShopConfig:
    write_key: str
    environment: str
    project: str


def config_path() -> Path:
    return Path(settings.DEMO_SHOP_CONFIG)


def load_config() -> ShopConfig | None:
    """The shop's key and environment, or None when there is none (or its key no longer works)."""
    try:
        data = json.loads(config_path().read_text())
        config = ShopConfig(**{name: str(data[name]) for name in CONFIG_FIELDS})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return config if keys.authenticate_key(config.write_key) is not None else None


def save_config(config: ShopConfig) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({name: getattr(config, name) for name in CONFIG_FIELDS}, indent=2))
