"""The sections of the customer hub, registered by the apps that own them.

customers sits below security and integrations and never imports them: each
app registers its sections here from its AppConfig.ready() (customers:
Communications; security: Security posture), and templates/customers/hub.html
loops over them, in registration order (INSTALLED_APPS order). A section's
template belongs to the app that registers it. This module imports no
models, so apps.py may import it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HubPage:
    """What every section may read: the request, and the customer with its
    domains and contacts (read once per page)."""

    request: Any
    customer: Any
    domains: list
    contacts: list


@dataclass(frozen=True)
class HubSection:
    """One section: `anchor` is its element id, `title` its heading, and
    `context` returns what `template` reads (merged into the page's context)."""

    anchor: str
    title: str
    template: str
    context: Callable[[HubPage], dict]


_sections: list[HubSection] = []


def hub_section_register(section: HubSection):
    if all(known.anchor != section.anchor for known in _sections):
        _sections.append(section)


def sections() -> tuple[HubSection, ...]:
    return tuple(_sections)
