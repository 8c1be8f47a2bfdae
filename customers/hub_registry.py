"""Sections the apps above customers add to the customer hub.

customers sits below security and integrations and never imports them; they
register their sections here from their AppConfig.ready() (security: the
posture section). A section is a function of the customer that returns
template context. This module imports no models, so apps.py may import it.
"""

_sections = []


def hub_section_register(section):
    if section not in _sections:
        _sections.append(section)


def sections():
    return tuple(_sections)
